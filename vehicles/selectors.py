"""Reads for vehicles. Each lists the queries it makes; tests pin the counts."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from accounts.models import User
from vehicles.errors import VehicleNotFound, VehicleNotOwned
from vehicles.models import Vehicle, VehicleEvent, VehiclePhoto, VehicleSpec


def vehicle_list(*, search: str = "", owner: User | None = None) -> QuerySet[Vehicle]:
    """Newest first, owner joined, photos prefetched for the cover: 2 queries per page."""
    vehicles = Vehicle.objects.select_related("owner").prefetch_related("photos")
    for term in search.split():
        if "\x00" in term:
            # No stored text holds a NUL, and PostgreSQL refuses one in a query parameter.
            return vehicles.none()
        match = (
            Q(make__icontains=term)
            | Q(model__icontains=term)
            | Q(trim__icontains=term)
            | Q(colour__icontains=term)
            | Q(vin__iexact=term)
        )
        if term.isascii() and term.isdigit():  # "²".isdigit(), but int("²") fails
            match |= Q(year=int(term))
        vehicles = vehicles.filter(match)
    if owner is not None:
        vehicles = vehicles.filter(owner=owner)
    return vehicles.order_by("-created_at", "-pk")


def vehicle_get(*, vehicle_id: int) -> Vehicle:
    """One vehicle with its owner: 1 query. Raises VehicleNotFound."""
    vehicle = Vehicle.objects.select_related("owner").filter(pk=vehicle_id).first()
    if vehicle is None:
        raise VehicleNotFound()
    return vehicle


def vehicle_get_full(*, vehicle_id: int) -> Vehicle:
    """One vehicle with owner, photos, specs and timeline: 4 queries. Raises VehicleNotFound."""
    vehicle = (
        Vehicle.objects.select_related("owner")
        .prefetch_related("photos", "specs", "events")
        .filter(pk=vehicle_id)
        .first()
    )
    if vehicle is None:
        raise VehicleNotFound()
    return vehicle


def vehicle_get_editable(*, vehicle_id: int, user: User | AnonymousUser) -> Vehicle:
    """The full vehicle if `user` owns it: VehicleNotFound, or VehicleNotOwned (403)."""
    vehicle = vehicle_get_full(vehicle_id=vehicle_id)
    if not user.is_authenticated or vehicle.owner_id != user.pk:
        raise VehicleNotOwned()
    return vehicle


@dataclass(frozen=True)
class VehicleDetail:
    vehicle: Vehicle
    photos: list[VehiclePhoto]
    specs: list[VehicleSpec]
    events: list[VehicleEvent]
    is_owner: bool

    @property
    def cover_url(self) -> str:
        return self.photos[0].image.url if self.photos else self.vehicle.placeholder_url


def vehicle_detail(*, vehicle_id: int, viewer: User | AnonymousUser) -> VehicleDetail:
    """What the vehicle page shows: 4 queries. Raises VehicleNotFound."""
    vehicle = vehicle_get_full(vehicle_id=vehicle_id)
    return VehicleDetail(
        vehicle=vehicle,
        photos=list(vehicle.photos.all()),
        specs=list(vehicle.specs.all()),
        events=list(vehicle.events.all()),
        is_owner=viewer.is_authenticated and vehicle.owner_id == viewer.pk,
    )
