"""Pages: the vehicle list, a vehicle, and (for its owner) the forms that change it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import form_add_domain_error
from accounts.hooks import sections_render
from accounts.models import User
from config.errors import InvalidInput, NotFound
from config.errors import PermissionDenied as DomainPermissionDenied
from vehicles import services
from vehicles.forms import VehicleEventForm, VehicleForm, VehiclePhotoForm, VehicleSpecForm
from vehicles.models import Vehicle
from vehicles.placeholder import placeholder_etag, placeholder_svg
from vehicles.selectors import vehicle_detail, vehicle_get, vehicle_get_editable, vehicle_list

VEHICLES_PER_PAGE = 24
PLACEHOLDER_MAX_AGE = 24 * 60 * 60

View = Callable[..., HttpResponse]


def domain_errors_as_http(view: View) -> View:
    """A service's not-found is a 404 page, its not-allowed a 403 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as error:
            raise Http404(error.detail) from error
        except DomainPermissionDenied as error:
            raise HttpForbidden(error.detail) from error

    return wrapper


@require_GET
def vehicle_list_page(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    is_mine = request.GET.get("mine") == "1" and request.user.is_authenticated
    owner = cast(User, request.user) if is_mine else None
    paginator = Paginator(vehicle_list(search=search, owner=owner), VEHICLES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    context = {"page": page, "vehicles": page.object_list, "search": search, "is_mine": is_mine}
    return render(request, "vehicles/list.html", context)


@require_GET
@domain_errors_as_http
def vehicle_detail_page(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    detail = vehicle_detail(vehicle_id=vehicle_id, viewer=request.user)
    sections = sections_render("VEHICLES_DETAIL_SECTIONS", request=request, vehicle=detail.vehicle)
    context = {"detail": detail, "vehicle": detail.vehicle, "market_sections": sections}
    return render(request, "vehicles/detail.html", context)


@require_GET
@domain_errors_as_http
def vehicle_placeholder(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    vehicle = vehicle_get(vehicle_id=vehicle_id)
    svg = placeholder_svg(
        vin=vehicle.vin, year=vehicle.year, make=vehicle.make, model=vehicle.model
    )
    etag = placeholder_etag(svg)
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        svg, content_type="image/svg+xml; charset=utf-8"
    )
    response["ETag"] = etag
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    patch_cache_control(response, public=True, max_age=PLACEHOLDER_MAX_AGE)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def vehicle_create_page(request: HttpRequest) -> HttpResponse:
    form = VehicleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            vehicle = services.vehicle_create(owner=cast(User, request.user), **form.cleaned_data)
        except InvalidInput as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, f"{vehicle} is registered. Add photos, specs and history.")
            return redirect("vehicles:edit", vehicle_id=vehicle.pk)
    return render(request, "vehicles/create.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors_as_http
def vehicle_edit_page(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    vehicle = vehicle_get_editable(vehicle_id=vehicle_id, user=request.user)
    # The form writes into its instance while it validates: give it a copy, not the original.
    form = VehicleForm(request.POST or None, instance=copy.copy(vehicle))
    if request.method == "POST" and form.is_valid():
        try:
            services.vehicle_update(user=_user(request), vehicle=vehicle, data=form.cleaned_data)
        except InvalidInput as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, "The vehicle's details are saved.")
            return redirect(vehicle)
    return _edit_page(request, vehicle, vehicle_form=form)


@login_required
@require_POST
@domain_errors_as_http
def vehicle_photo_add_page(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    vehicle = vehicle_get_editable(vehicle_id=vehicle_id, user=request.user)
    form = VehiclePhotoForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.vehicle_photo_add(user=_user(request), vehicle=vehicle, **form.cleaned_data)
        except InvalidInput as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, "The photo is added.")
            return _back_to_edit(vehicle, "photos")
    return _edit_page(request, vehicle, photo_form=form)


@login_required
@require_POST
@domain_errors_as_http
def vehicle_photo_remove_page(request: HttpRequest, vehicle_id: int, photo_id: int) -> HttpResponse:
    vehicle = vehicle_get(vehicle_id=vehicle_id)
    services.vehicle_photo_remove(user=_user(request), vehicle=vehicle, photo_id=photo_id)
    messages.success(request, "The photo is removed.")
    return _back_to_edit(vehicle, "photos")


@login_required
@require_POST
@domain_errors_as_http
def vehicle_spec_add_page(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    vehicle = vehicle_get_editable(vehicle_id=vehicle_id, user=request.user)
    form = VehicleSpecForm(request.POST)
    if form.is_valid():
        try:
            services.vehicle_spec_add(user=_user(request), vehicle=vehicle, **form.cleaned_data)
        except InvalidInput as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, "The spec is added.")
            return _back_to_edit(vehicle, "specs")
    return _edit_page(request, vehicle, spec_form=form)


@login_required
@require_POST
@domain_errors_as_http
def vehicle_spec_remove_page(request: HttpRequest, vehicle_id: int, spec_id: int) -> HttpResponse:
    vehicle = vehicle_get(vehicle_id=vehicle_id)
    services.vehicle_spec_remove(user=_user(request), vehicle=vehicle, spec_id=spec_id)
    messages.success(request, "The spec is removed.")
    return _back_to_edit(vehicle, "specs")


@login_required
@require_POST
@domain_errors_as_http
def vehicle_event_add_page(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    vehicle = vehicle_get_editable(vehicle_id=vehicle_id, user=request.user)
    form = VehicleEventForm(request.POST)
    if form.is_valid():
        try:
            services.vehicle_event_add(user=_user(request), vehicle=vehicle, **form.cleaned_data)
        except InvalidInput as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, "The timeline event is added.")
            return _back_to_edit(vehicle, "timeline")
    return _edit_page(request, vehicle, event_form=form)


@login_required
@require_POST
@domain_errors_as_http
def vehicle_event_remove_page(request: HttpRequest, vehicle_id: int, event_id: int) -> HttpResponse:
    vehicle = vehicle_get(vehicle_id=vehicle_id)
    services.vehicle_event_remove(user=_user(request), vehicle=vehicle, event_id=event_id)
    messages.success(request, "The timeline event is removed.")
    return _back_to_edit(vehicle, "timeline")


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _back_to_edit(vehicle: Vehicle, anchor: str) -> HttpResponse:
    return redirect(reverse("vehicles:edit", args=[vehicle.pk]) + f"#{anchor}")


def _edit_page(
    request: HttpRequest,
    vehicle: Vehicle,
    *,
    vehicle_form: VehicleForm | None = None,
    photo_form: VehiclePhotoForm | None = None,
    spec_form: VehicleSpecForm | None = None,
    event_form: VehicleEventForm | None = None,
) -> HttpResponse:
    context = {
        "vehicle": vehicle,
        "photos": list(vehicle.photos.all()),
        "specs": list(vehicle.specs.all()),
        "events": list(vehicle.events.all()),
        "form": vehicle_form or VehicleForm(instance=vehicle),
        "photo_form": photo_form or VehiclePhotoForm(),
        "spec_form": spec_form or VehicleSpecForm(),
        "event_form": event_form or VehicleEventForm(),
    }
    return render(request, "vehicles/edit.html", context)
