"""Reads only the market's pages need, beyond `market.selectors`: vehicle covers and the day's
sparklines for many instruments at once. Each names its queries; the page tests pin them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import Max, Subquery
from django.db.models.functions import TruncMinute
from django.urls import reverse

from market.calendar import get_calendar
from market.models import Trade
from market.money import cents
from vehicles.models import VehiclePhoto

# Enough points for a 120-pixel line; a busy day is thinned to this many, keeping the last.
SPARKLINE_POINTS = 60


def cover_urls(vehicle_ids: Iterable[int]) -> dict[int, str]:
    """Each vehicle's first photo, else its generated placeholder: 1 query (none for none)."""
    ids = list(vehicle_ids)
    covers: dict[int, str] = {}
    if ids:
        photos = VehiclePhoto.objects.filter(vehicle_id__in=ids).order_by(
            "vehicle_id", "position", "pk"
        )
        for photo in photos:
            covers.setdefault(photo.vehicle_id, photo.image.url)
    for vehicle_id in ids:
        if vehicle_id not in covers:
            covers[vehicle_id] = reverse("vehicles:placeholder", args=[vehicle_id])
    return covers


def sparklines(instrument_ids: Iterable[int], *, trading_date: date) -> dict[int, list[Decimal]]:
    """The day's prices of each instrument, oldest first: the last trade of every minute,
    thinned to at most SPARKLINE_POINTS. 1 query (the minutes' last trades, grouped in the
    database), none for no instruments."""
    ids = list(instrument_ids)
    if not ids:
        return {}
    last_of_each_minute = (
        Trade.objects.filter(instrument_id__in=ids, trading_date=trading_date)
        .annotate(minute=TruncMinute("executed_at", tzinfo=get_calendar().tz))
        .values("instrument_id", "minute")
        .annotate(last_id=Max("pk"))
        .values("last_id")
    )
    rows = (
        Trade.objects.filter(pk__in=Subquery(last_of_each_minute))
        .order_by("pk")
        .values_list("instrument_id", "price")
    )
    lines: dict[int, list[Decimal]] = defaultdict(list)
    for instrument_id, price in rows:
        lines[instrument_id].append(cents(Decimal(price)))
    return {instrument_id: _thin(prices) for instrument_id, prices in lines.items()}


def _thin(prices: list[Decimal]) -> list[Decimal]:
    if len(prices) <= SPARKLINE_POINTS:
        return prices
    count = len(prices)
    picked = [prices[index * count // SPARKLINE_POINTS] for index in range(SPARKLINE_POINTS - 1)]
    return [*picked, prices[-1]]
