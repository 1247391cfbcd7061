from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from market.models import Instrument


def home(request: HttpRequest) -> HttpResponse:
    instruments = Instrument.objects.select_related("vehicle").order_by("symbol")
    return render(request, "market/home.html", {"instruments": instruments})
