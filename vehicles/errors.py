"""The vehicles app's business errors. Each renders as {"code", "detail", "fields"}."""

from __future__ import annotations

from accounts.errors import FieldErrors
from config.errors import InvalidInput, NotFound, PermissionDenied


class VehicleNotFound(NotFound):
    code = "vehicle_not_found"
    default_detail = "There is no vehicle with that id."


class VehicleNotOwned(PermissionDenied):
    code = "vehicle_not_owned"
    default_detail = "Only the vehicle's owner can change it."


class VehicleInvalid(FieldErrors):
    code = "vehicle_invalid"


class VinTaken(InvalidInput):
    code = "vin_taken"
    default_detail = "A vehicle with this VIN is already registered."

    def __init__(self) -> None:
        super().__init__(field="vin")


class PhotoInvalid(InvalidInput):
    code = "photo_invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="image")


class SpecNameTaken(InvalidInput):
    code = "spec_name_taken"
    default_detail = "This vehicle already has a spec named “{name}”."

    def __init__(self, *, name: str) -> None:
        super().__init__(field="name", name=name)


class EventInvalid(FieldErrors):
    code = "event_invalid"


class PhotoNotFound(NotFound):
    code = "photo_not_found"
    default_detail = "This vehicle has no such photo."


class SpecNotFound(NotFound):
    code = "spec_not_found"
    default_detail = "This vehicle has no such spec."


class EventNotFound(NotFound):
    code = "event_not_found"
    default_detail = "This vehicle has no such timeline event."
