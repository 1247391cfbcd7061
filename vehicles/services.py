"""Writes for vehicles: the vehicle itself, its photos, spec sheet and timeline.

Every change but `vehicle_create` is for the owner only (VehicleNotOwned otherwise). None of
these takes a row lock: a vehicle is edited by one person, and the unique VIN and spec-name
indexes settle the only races that matter.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from accounts.models import User
from vehicles.errors import (
    EventInvalid,
    EventNotFound,
    PhotoInvalid,
    PhotoNotFound,
    SpecNameTaken,
    SpecNotFound,
    VehicleInvalid,
    VehicleNotOwned,
    VinTaken,
)
from vehicles.models import Vehicle, VehicleEvent, VehiclePhoto, VehicleSpec

VEHICLE_EDITABLE_FIELDS = frozenset(
    {"make", "model", "year", "vin", "trim", "mileage", "colour", "description"}
)
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_PER_VEHICLE = 20
PHOTO_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})


def vehicle_create(
    *,
    owner: User,
    make: str,
    model: str,
    year: int,
    vin: str,
    trim: str = "",
    mileage: int = 0,
    colour: str = "",
    description: str = "",
    specs: Iterable[Mapping[str, str]] = (),
) -> Vehicle:
    """Register a vehicle owned by `owner`, with an optional spec sheet ({name, value} items)."""
    vehicle = Vehicle(
        owner=owner,
        make=make,
        model=model,
        year=year,
        vin=vin,
        trim=trim,
        mileage=mileage,
        colour=colour,
        description=description,
    )
    spec_rows = _specs_clean(specs)
    _vehicle_clean(vehicle)
    with transaction.atomic(durable=True):
        _vehicle_save(vehicle)
        VehicleSpec.objects.bulk_create(
            VehicleSpec(vehicle=vehicle, name=name, value=value, position=position)
            for position, (name, value) in enumerate(spec_rows)
        )
    return vehicle


def vehicle_update(*, user: User, vehicle: Vehicle, data: Mapping[str, Any]) -> Vehicle:
    """Change the vehicle's own fields (any of VEHICLE_EDITABLE_FIELDS)."""
    _check_owner(user=user, vehicle=vehicle)
    unknown = set(data) - VEHICLE_EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"vehicle_update() cannot change {sorted(unknown)}")
    for name, value in data.items():
        setattr(vehicle, name, value)
    _vehicle_clean(vehicle)
    with transaction.atomic(durable=True):
        _vehicle_save(vehicle)
    return vehicle


def vehicle_photo_add(
    *, user: User, vehicle: Vehicle, image: File, caption: str = ""
) -> VehiclePhoto:
    """Add a JPEG, PNG, WebP or GIF picture at the end of the gallery."""
    _check_owner(user=user, vehicle=vehicle)
    _image_check(image)
    if vehicle.photos.count() >= PHOTO_MAX_PER_VEHICLE:
        raise PhotoInvalid(f"A vehicle has at most {PHOTO_MAX_PER_VEHICLE} photos.")
    photo = VehiclePhoto(
        vehicle=vehicle,
        image=image,
        caption=caption.strip(),
        position=_next_position(vehicle.photos.all()),
    )
    try:
        photo.full_clean(exclude=["vehicle", "image"])
    except ValidationError as error:
        raise VehicleInvalid.from_django(error) from error
    with transaction.atomic(durable=True):
        photo.save()
    return photo


def vehicle_photo_remove(*, user: User, vehicle: Vehicle, photo_id: int) -> None:
    """Delete the photo; its file goes once the deletion is committed."""
    _check_owner(user=user, vehicle=vehicle)
    photo = VehiclePhoto.objects.filter(vehicle=vehicle, pk=photo_id).first()
    if photo is None:
        raise PhotoNotFound()
    storage, name = photo.image.storage, photo.image.name
    with transaction.atomic(durable=True):
        photo.delete()
        if name:
            transaction.on_commit(lambda: storage.delete(name))


def vehicle_spec_add(*, user: User, vehicle: Vehicle, name: str, value: str) -> VehicleSpec:
    """Add a line to the spec sheet; names are unique per vehicle, whatever their case."""
    _check_owner(user=user, vehicle=vehicle)
    spec = VehicleSpec(vehicle=vehicle, name=name.strip(), value=value.strip())
    try:
        spec.full_clean(exclude=["vehicle", "position"], validate_constraints=False)
    except ValidationError as error:
        raise VehicleInvalid.from_django(error) from error
    if vehicle.specs.filter(name__iexact=spec.name).exists():
        raise SpecNameTaken(name=spec.name)
    spec.position = _next_position(vehicle.specs.all())
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                spec.save()
        except IntegrityError as error:
            raise SpecNameTaken(name=spec.name) from error
    return spec


def vehicle_spec_remove(*, user: User, vehicle: Vehicle, spec_id: int) -> None:
    _check_owner(user=user, vehicle=vehicle)
    with transaction.atomic(durable=True):
        deleted, _by_model = VehicleSpec.objects.filter(vehicle=vehicle, pk=spec_id).delete()
    if not deleted:
        raise SpecNotFound()


def vehicle_event_add(
    *, user: User, vehicle: Vehicle, date: datetime.date, title: str, text: str = ""
) -> VehicleEvent:
    """Add a dated line to the vehicle's timeline; a date after today is refused."""
    _check_owner(user=user, vehicle=vehicle)
    event = VehicleEvent(vehicle=vehicle, date=date, title=title.strip(), text=text.strip())
    try:
        event.full_clean(exclude=["vehicle"])
    except ValidationError as error:
        raise EventInvalid.from_django(error) from error
    if event.date > timezone.localdate():
        raise EventInvalid({"date": ["A timeline event cannot be dated in the future."]})
    with transaction.atomic(durable=True):
        event.save()
    return event


def vehicle_event_remove(*, user: User, vehicle: Vehicle, event_id: int) -> None:
    _check_owner(user=user, vehicle=vehicle)
    with transaction.atomic(durable=True):
        deleted, _by_model = VehicleEvent.objects.filter(vehicle=vehicle, pk=event_id).delete()
    if not deleted:
        raise EventNotFound()


def vin_normalize(vin: str) -> str:
    """How a VIN is stored: no surrounding spaces, upper case."""
    return vin.strip().upper()


def _check_owner(*, user: User, vehicle: Vehicle) -> None:
    if not user.is_authenticated or vehicle.owner_id != user.pk:
        raise VehicleNotOwned()


def _vehicle_clean(vehicle: Vehicle) -> None:
    vehicle.vin = vin_normalize(vehicle.vin)
    for name in ("make", "model", "trim", "colour", "description"):
        setattr(vehicle, name, getattr(vehicle, name).strip())
    try:
        vehicle.full_clean(exclude=["owner"], validate_unique=False)
    except ValidationError as error:
        raise VehicleInvalid.from_django(error) from error
    if Vehicle.objects.filter(vin=vehicle.vin).exclude(pk=vehicle.pk).exists():
        raise VinTaken()


def _vehicle_save(vehicle: Vehicle) -> None:
    try:
        with transaction.atomic():
            vehicle.save()
    except IntegrityError as error:  # the unique VIN index, raced by another registration
        raise VinTaken() from error


def _specs_clean(specs: Iterable[Mapping[str, str]]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    messages: list[str] = []
    seen: set[str] = set()
    for number, item in enumerate(specs, start=1):
        name, value = str(item.get("name", "")).strip(), str(item.get("value", "")).strip()
        spec = VehicleSpec(name=name, value=value)
        try:
            spec.full_clean(exclude=["vehicle", "position"], validate_constraints=False)
        except ValidationError as error:
            messages.extend(
                f"Spec {number}, {field}: {message}"
                for field, field_messages in error.message_dict.items()
                for message in field_messages
            )
            continue
        if name.casefold() in seen:
            messages.append(f"The spec “{name}” is listed twice.")
            continue
        seen.add(name.casefold())
        rows.append((name, value))
    if messages:
        raise VehicleInvalid({"specs": messages})
    return rows


def _image_check(image: File) -> None:
    if image.size is not None and image.size > PHOTO_MAX_BYTES:
        raise PhotoInvalid(f"A photo can be at most {PHOTO_MAX_BYTES // (1024 * 1024)} MB.")
    try:
        image.seek(0)
        with Image.open(image) as picture:
            picture_format = picture.format
            picture.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as error:
        raise PhotoInvalid("This file is not a picture that can be shown.") from error
    finally:
        image.seek(0)
    if picture_format not in PHOTO_FORMATS:
        raise PhotoInvalid("A photo must be a JPEG, PNG, WebP or GIF picture.")


def _next_position(rows: Any) -> int:
    highest = rows.aggregate(highest=Max("position"))["highest"]
    return 0 if highest is None else highest + 1
