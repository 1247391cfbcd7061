from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import (
    VehicleEventFactory,
    VehicleFactory,
    VehiclePhotoFactory,
    VehicleSpecFactory,
)
from vehicles import services
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
from vehicles.models import Vehicle, VehiclePhoto, VehicleSpec

ACCORD = {"make": "Honda", "model": "Accord", "year": 2003, "vin": "1HGCM82633A004352"}


@pytest.mark.django_db
def test_create_stores_vehicle_with_ordered_specs(owner):
    vehicle = services.vehicle_create(
        owner=owner,
        **ACCORD,
        specs=[{"name": "Engine", "value": "2.4 L I4"}, {"name": "Gearbox", "value": "5-speed"}],
    )

    assert vehicle.owner == owner
    assert [(s.name, s.value) for s in vehicle.specs.all()] == [
        ("Engine", "2.4 L I4"),
        ("Gearbox", "5-speed"),
    ]


@pytest.mark.django_db
def test_create_stores_the_vin_upper_case_and_trimmed(owner):
    vehicle = services.vehicle_create(owner=owner, **{**ACCORD, "vin": " 1hgcm82633a004352 "})

    assert vehicle.vin == "1HGCM82633A004352"


@pytest.mark.django_db
def test_create_rejects_a_mistyped_vin_under_the_vin_field(owner):
    with pytest.raises(VehicleInvalid) as caught:
        services.vehicle_create(owner=owner, **{**ACCORD, "vin": "1HGCM82643A004352"})

    assert caught.value.fields == {
        "vin": ["The VIN's check digit (9th character) is 4 but should be 3: the VIN is mistyped."]
    }
    assert not Vehicle.objects.exists()


@pytest.mark.django_db
def test_create_rejects_a_vin_already_registered_whatever_its_case(owner):
    VehicleFactory(vin="1HGCM82633A004352")

    with pytest.raises(VinTaken):
        services.vehicle_create(owner=owner, **{**ACCORD, "vin": "1hgcm82633a004352"})


@pytest.mark.django_db
def test_create_rejects_duplicate_and_blank_specs_and_stores_nothing(owner):
    with pytest.raises(VehicleInvalid) as caught:
        services.vehicle_create(
            owner=owner,
            **ACCORD,
            specs=[
                {"name": "Engine", "value": "2.4 L"},
                {"name": "engine", "value": "2.4 L"},
                {"name": "", "value": "x"},
            ],
        )

    assert caught.value.fields["specs"] == [
        "The spec “engine” is listed twice.",
        "Spec 3, name: This field cannot be blank.",
    ]
    assert not Vehicle.objects.exists()


@pytest.mark.django_db
def test_create_rejects_an_impossible_year(owner):
    with pytest.raises(VehicleInvalid) as caught:
        services.vehicle_create(owner=owner, **{**ACCORD, "year": 1700})

    assert set(caught.value.fields) == {"year"}


@pytest.mark.django_db
def test_owner_updates_fields(vehicle, owner):
    services.vehicle_update(user=owner, vehicle=vehicle, data={"mileage": 90_000, "colour": "Blue"})

    vehicle.refresh_from_db()
    assert (vehicle.mileage, vehicle.colour) == (90_000, "Blue")


@pytest.mark.django_db
def test_someone_else_cannot_update_the_vehicle(vehicle, stranger):
    with pytest.raises(VehicleNotOwned):
        services.vehicle_update(user=stranger, vehicle=vehicle, data={"mileage": 1})

    vehicle.refresh_from_db()
    assert vehicle.mileage == 84_000


@pytest.mark.django_db
def test_update_can_keep_the_vehicles_own_vin(vehicle, owner):
    services.vehicle_update(user=owner, vehicle=vehicle, data={"vin": vehicle.vin.lower()})

    vehicle.refresh_from_db()
    assert vehicle.vin == vehicle.vin.upper()


@pytest.mark.django_db
def test_update_refuses_fields_it_does_not_edit(vehicle, owner):
    with pytest.raises(TypeError):
        services.vehicle_update(user=owner, vehicle=vehicle, data={"owner_id": 1})


@pytest.mark.django_db
def test_photo_add_appends_to_the_gallery(vehicle, owner, png_upload):
    first = services.vehicle_photo_add(user=owner, vehicle=vehicle, image=png_upload())
    second = services.vehicle_photo_add(
        user=owner, vehicle=vehicle, image=png_upload(), caption="Rear"
    )

    assert (first.position, second.position) == (0, 1)
    assert list(vehicle.photos.all()) == [first, second]
    assert Path(second.image.path).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("car.png", b"not a picture", content_type="image/png"),
        SimpleUploadedFile("car.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ],
)
def test_photo_add_rejects_files_that_are_not_pictures(vehicle, owner, upload):
    with pytest.raises(PhotoInvalid) as caught:
        services.vehicle_photo_add(user=owner, vehicle=vehicle, image=upload)

    assert caught.value.field == "image"
    assert not VehiclePhoto.objects.exists()


@pytest.mark.django_db
def test_photo_add_is_for_the_owner_only(vehicle, stranger, png_upload):
    with pytest.raises(VehicleNotOwned):
        services.vehicle_photo_add(user=stranger, vehicle=vehicle, image=png_upload())


@pytest.mark.django_db
def test_photo_remove_deletes_the_row_and_the_file_after_commit(
    vehicle, owner, django_capture_on_commit_callbacks
):
    photo = VehiclePhotoFactory(vehicle=vehicle)
    path = Path(photo.image.path)

    with django_capture_on_commit_callbacks(execute=True):
        services.vehicle_photo_remove(user=owner, vehicle=vehicle, photo_id=photo.pk)

    assert not VehiclePhoto.objects.exists()
    assert not path.exists()


@pytest.mark.django_db
def test_photo_remove_cannot_reach_another_vehicles_photo(vehicle, owner):
    photo = VehiclePhotoFactory()

    with pytest.raises(PhotoNotFound):
        services.vehicle_photo_remove(user=owner, vehicle=vehicle, photo_id=photo.pk)

    assert VehiclePhoto.objects.filter(pk=photo.pk).exists()


@pytest.mark.django_db
def test_spec_add_appends_and_refuses_a_name_twice(vehicle, owner):
    VehicleSpecFactory(vehicle=vehicle, name="Engine", position=0)

    spec = services.vehicle_spec_add(user=owner, vehicle=vehicle, name=" Gearbox ", value="Manual")
    with pytest.raises(SpecNameTaken) as caught:
        services.vehicle_spec_add(user=owner, vehicle=vehicle, name="ENGINE", value="V8")

    assert (spec.name, spec.position) == ("Gearbox", 1)
    assert caught.value.as_dict()["fields"] == {
        "name": ["This vehicle already has a spec named “ENGINE”."]
    }


@pytest.mark.django_db
def test_spec_remove_is_for_the_owner_and_this_vehicle_only(vehicle, owner, stranger):
    spec = VehicleSpecFactory(vehicle=vehicle)
    elsewhere = VehicleSpecFactory()

    with pytest.raises(VehicleNotOwned):
        services.vehicle_spec_remove(user=stranger, vehicle=vehicle, spec_id=spec.pk)
    with pytest.raises(SpecNotFound):
        services.vehicle_spec_remove(user=owner, vehicle=vehicle, spec_id=elsewhere.pk)
    services.vehicle_spec_remove(user=owner, vehicle=vehicle, spec_id=spec.pk)

    assert list(VehicleSpec.objects.all()) == [elsewhere]


@pytest.mark.django_db
def test_event_add_and_remove(vehicle, owner):
    event = services.vehicle_event_add(
        user=owner, vehicle=vehicle, date=datetime.date(2001, 5, 4), title=" Restored "
    )

    assert list(vehicle.events.all()) == [event]
    assert event.title == "Restored"
    services.vehicle_event_remove(user=owner, vehicle=vehicle, event_id=event.pk)
    assert not vehicle.events.exists()


@pytest.mark.django_db
def test_event_add_refuses_a_date_in_the_future(vehicle, owner):
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)

    with pytest.raises(EventInvalid) as caught:
        services.vehicle_event_add(user=owner, vehicle=vehicle, date=tomorrow, title="Sold")

    assert caught.value.fields == {"date": ["A timeline event cannot be dated in the future."]}


@pytest.mark.django_db
def test_event_remove_is_for_the_owner_and_this_vehicle_only(vehicle, owner, stranger):
    event = VehicleEventFactory(vehicle=vehicle)
    elsewhere = VehicleEventFactory()

    with pytest.raises(VehicleNotOwned):
        services.vehicle_event_remove(user=stranger, vehicle=vehicle, event_id=event.pk)
    with pytest.raises(EventNotFound):
        services.vehicle_event_remove(user=owner, vehicle=vehicle, event_id=elsewhere.pk)
