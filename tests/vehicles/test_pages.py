from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from tests.factories import (
    VehicleEventFactory,
    VehicleFactory,
    VehiclePhotoFactory,
    VehicleSpecFactory,
)
from vehicles.models import Vehicle, VehiclePhoto

ACCORD_FORM = {
    "make": "Honda",
    "model": "Accord",
    "year": "2003",
    "vin": "1hgcm82633a004352",
    "trim": "EX",
    "mileage": "120000",
    "colour": "Silver",
    "description": "",
}


def market_section(*, request, vehicle):
    return f"<button type='button'>Start trading {vehicle.make}</button>"


def edit_url(vehicle, name="edit", *args):
    return reverse(f"vehicles:{name}", args=[vehicle.pk, *args])


@pytest.mark.django_db
def test_list_page_shows_vehicles_as_cards(client):
    VehicleFactory(make="Porsche", model="911")
    VehicleFactory(make="Ford", model="Mustang")

    response = client.get(reverse("vehicles:list"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Porsche" in html
    assert "Mustang" in html
    assert '<label for="vehicle-search">' in html


@pytest.mark.django_db
def test_list_page_searches_and_filters_mine(client, owner):
    VehicleFactory(owner=owner, make="Porsche")
    VehicleFactory(make="Ford")
    client.force_login(owner)

    searched = client.get(reverse("vehicles:list"), {"q": "ford"})
    mine = client.get(reverse("vehicles:list"), {"mine": "1"})

    assert [v.make for v in searched.context["vehicles"]] == ["Ford"]
    assert [v.make for v in mine.context["vehicles"]] == ["Porsche"]


@pytest.mark.django_db
def test_detail_page_shows_photos_specs_and_timeline(client, vehicle):
    photo = VehiclePhotoFactory(vehicle=vehicle, caption="From the front")
    VehicleSpecFactory(vehicle=vehicle, name="Engine", value="3.6 L flat-six")
    VehicleEventFactory(vehicle=vehicle, date=datetime.date(1989, 6, 1), title="Built")

    response = client.get(vehicle.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert photo.image.url in html
    assert "3.6 L flat-six" in html
    assert "June 1, 1989" in html
    assert vehicle.vin in html


@pytest.mark.django_db
def test_detail_page_offers_edit_to_the_owner_only(client, vehicle, owner, stranger):
    client.force_login(stranger)
    for_stranger = client.get(vehicle.get_absolute_url()).content.decode()
    client.force_login(owner)
    for_owner = client.get(vehicle.get_absolute_url()).content.decode()

    assert edit_url(vehicle) not in for_stranger
    assert edit_url(vehicle) in for_owner


@pytest.mark.django_db
def test_detail_page_shows_what_the_market_plugs_in(client, vehicle):
    with override_settings(VEHICLES_DETAIL_SECTIONS=[f"{__name__}.market_section"]):
        response = client.get(vehicle.get_absolute_url())

    assert "<button type='button'>Start trading Porsche</button>" in response.content.decode()


@pytest.mark.django_db
def test_detail_page_of_an_unknown_vehicle_is_404(client):
    assert client.get(reverse("vehicles:detail", args=[999_999])).status_code == 404


@pytest.mark.django_db
def test_create_page_sends_visitors_to_login(client):
    response = client.get(reverse("vehicles:create"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_create_page_has_a_label_for_every_field(client, owner):
    client.force_login(owner)

    html = client.get(reverse("vehicles:create")).content.decode()

    for field in ACCORD_FORM:
        assert f'<label for="id_{field}"' in html
    assert "csrfmiddlewaretoken" in html


@pytest.mark.django_db
def test_create_page_registers_the_vehicle_and_opens_its_edit_page(client, owner):
    client.force_login(owner)

    response = client.post(reverse("vehicles:create"), ACCORD_FORM)

    vehicle = Vehicle.objects.get()
    assert response.status_code == 302
    assert response.url == edit_url(vehicle)
    assert (vehicle.owner, vehicle.vin) == (owner, "1HGCM82633A004352")


@pytest.mark.django_db
def test_create_page_shows_the_vin_message_next_to_the_vin(client, owner):
    client.force_login(owner)

    response = client.post(reverse("vehicles:create"), {**ACCORD_FORM, "vin": "1HGCM82643A004352"})

    assert response.status_code == 200
    assert response.context["form"].errors["vin"] == [
        "The VIN's check digit (9th character) is 4 but should be 3: the VIN is mistyped."
    ]
    assert not Vehicle.objects.exists()


@pytest.mark.django_db
def test_create_page_shows_a_taken_vin_next_to_the_vin(client, owner):
    VehicleFactory(vin="1HGCM82633A004352")
    client.force_login(owner)

    response = client.post(reverse("vehicles:create"), ACCORD_FORM)

    assert response.context["form"].errors["vin"] == [
        "A vehicle with this VIN is already registered."
    ]


@pytest.mark.django_db
def test_edit_page_sends_visitors_to_login(client, vehicle):
    response = client.get(edit_url(vehicle))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "extra"),
    [("edit", ()), ("photo_add", ()), ("spec_add", ()), ("event_add", ())],
)
def test_another_user_is_refused_the_edit_pages(client, vehicle, stranger, name, extra):
    client.force_login(stranger)

    response = client.post(edit_url(vehicle, name, *extra), {**ACCORD_FORM, "mileage": "1"})

    assert response.status_code == 403
    vehicle.refresh_from_db()
    assert vehicle.mileage == 84_000


@pytest.mark.django_db
def test_another_user_cannot_remove_photos_specs_or_events(client, vehicle, stranger):
    photo = VehiclePhotoFactory(vehicle=vehicle)
    spec = VehicleSpecFactory(vehicle=vehicle)
    event = VehicleEventFactory(vehicle=vehicle)
    client.force_login(stranger)

    statuses = [
        client.post(edit_url(vehicle, "photo_remove", photo.pk)).status_code,
        client.post(edit_url(vehicle, "spec_remove", spec.pk)).status_code,
        client.post(edit_url(vehicle, "event_remove", event.pk)).status_code,
    ]

    assert statuses == [403, 403, 403]
    assert (vehicle.photos.count(), vehicle.specs.count(), vehicle.events.count()) == (1, 1, 1)


@pytest.mark.django_db
def test_the_owner_edits_details(client, vehicle, owner):
    client.force_login(owner)
    assert client.get(edit_url(vehicle)).status_code == 200

    response = client.post(
        edit_url(vehicle), {**ACCORD_FORM, "vin": vehicle.vin, "mileage": "85000"}
    )

    assert response.status_code == 302
    vehicle.refresh_from_db()
    assert (vehicle.make, vehicle.mileage) == ("Honda", 85_000)


@pytest.mark.django_db
def test_the_owner_uploads_and_removes_a_photo(client, vehicle, owner, png_upload):
    client.force_login(owner)

    added = client.post(
        edit_url(vehicle, "photo_add"), {"image": png_upload(), "caption": "Side view"}
    )
    photo = VehiclePhoto.objects.get()
    removed = client.post(edit_url(vehicle, "photo_remove", photo.pk))

    assert added.status_code == 302
    assert photo.caption == "Side view"
    assert removed.status_code == 302
    assert not VehiclePhoto.objects.exists()


@pytest.mark.django_db
def test_a_file_that_is_not_a_picture_is_refused_next_to_the_photo_field(client, vehicle, owner):
    client.force_login(owner)
    upload = SimpleUploadedFile("car.png", b"plain text, not a picture", content_type="image/png")

    response = client.post(edit_url(vehicle, "photo_add"), {"image": upload})

    assert response.status_code == 200
    assert "image" in response.context["photo_form"].errors
    assert not VehiclePhoto.objects.exists()


@pytest.mark.django_db
def test_the_owner_adds_and_removes_specs(client, vehicle, owner):
    client.force_login(owner)

    client.post(edit_url(vehicle, "spec_add"), {"name": "Engine", "value": "3.6 L"})
    duplicate = client.post(edit_url(vehicle, "spec_add"), {"name": "engine", "value": "V8"})
    spec = vehicle.specs.get()
    client.post(edit_url(vehicle, "spec_remove", spec.pk))

    assert duplicate.context["spec_form"].errors["name"] == [
        "This vehicle already has a spec named “engine”."
    ]
    assert not vehicle.specs.exists()


@pytest.mark.django_db
def test_the_owner_adds_and_removes_timeline_events(client, vehicle, owner):
    client.force_login(owner)

    client.post(
        edit_url(vehicle, "event_add"), {"date": "2001-05-04", "title": "Restored", "text": ""}
    )
    event = vehicle.events.get()
    client.post(edit_url(vehicle, "event_remove", event.pk))

    assert (event.date, event.title) == (datetime.date(2001, 5, 4), "Restored")
    assert not vehicle.events.exists()


@pytest.mark.django_db
def test_removing_a_photo_of_another_vehicle_is_404(client, vehicle, owner):
    other_photo = VehiclePhotoFactory()
    client.force_login(owner)

    response = client.post(edit_url(vehicle, "photo_remove", other_photo.pk))

    assert response.status_code == 404
    assert VehiclePhoto.objects.filter(pk=other_photo.pk).exists()
