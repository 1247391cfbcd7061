from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.factories import VehicleFactory, VehicleSpecFactory
from vehicles.models import Vehicle

LIST_URL = "/api/v1/vehicles/"
ACCORD = {
    "make": "Honda",
    "model": "Accord",
    "year": 2003,
    "vin": "1HGCM82633A004352",
    "trim": "EX",
    "mileage": 120_000,
    "colour": "Silver",
    "description": "One owner.",
}


def detail_url(vehicle_id: int) -> str:
    return f"/api/v1/vehicles/{vehicle_id}/"


@pytest.fixture
def owner_client(api_client, owner):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return api_client


@pytest.fixture
def stranger_client(api_client, stranger):
    api_client.force_authenticate(stranger)
    return api_client


@pytest.mark.django_db
def test_anonymous_clients_can_list_vehicles_paginated(api_client):
    VehicleFactory.create_batch(3)

    response = api_client.get(LIST_URL, {"limit": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None
    assert set(body["results"][0]) >= {"id", "make", "model", "year", "vin", "owner", "cover_url"}


@pytest.mark.django_db
def test_list_searches_with_q(api_client):
    VehicleFactory(make="Ford", model="Mustang")
    VehicleFactory(make="Tesla", model="Model S")

    response = api_client.get(LIST_URL, {"q": "mustang"})

    assert [v["model"] for v in response.json()["results"]] == ["Mustang"]


@pytest.mark.django_db
@pytest.mark.parametrize("q", ["mus\x00tang", "²", "2003 \x00"])
def test_a_search_with_a_nul_or_a_non_ascii_digit_finds_nothing_and_fails_nothing(api_client, q):
    # Schemathesis found both: PostgreSQL refuses NUL in a parameter, and int("²") raises.
    VehicleFactory(make="Ford", model="Mustang", year=2003)

    response = api_client.get(LIST_URL, {"q": q})

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert client_page(q).status_code == 200


def client_page(q):
    return Client().get("/vehicles/", {"q": q})


@pytest.mark.django_db
def test_anonymous_clients_can_read_one_vehicle_with_specs(api_client, vehicle):
    VehicleSpecFactory(vehicle=vehicle, name="Engine", value="3.6 L")

    response = api_client.get(detail_url(vehicle.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["vin"] == vehicle.vin
    assert body["specs"] == [{"id": vehicle.specs.get().pk, "name": "Engine", "value": "3.6 L"}]
    assert body["cover_url"] == f"http://testserver/vehicles/{vehicle.pk}/placeholder.svg"


@pytest.mark.django_db
def test_an_unknown_vehicle_is_404(api_client):
    response = api_client.get(detail_url(999_999))

    assert response.status_code == 404
    assert response.json()["code"] == "vehicle_not_found"


@pytest.mark.django_db
def test_anonymous_clients_cannot_create_a_vehicle(api_client):
    response = api_client.post(LIST_URL, ACCORD, format="json")

    assert response.status_code == 401
    assert not Vehicle.objects.exists()


@pytest.mark.django_db
def test_a_user_creates_a_vehicle_with_specs(owner_client, owner):
    response = owner_client.post(
        LIST_URL,
        {**ACCORD, "vin": "1hgcm82633a004352", "specs": [{"name": "Engine", "value": "2.4 L"}]},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    vehicle = Vehicle.objects.get()
    assert body["id"] == vehicle.pk
    assert body["vin"] == "1HGCM82633A004352"
    assert body["owner"] == {"id": owner.pk, "display_name": owner.public_name}
    assert [(s["name"], s["value"]) for s in body["specs"]] == [("Engine", "2.4 L")]
    assert vehicle.owner == owner


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("vin", "message"),
    [
        (
            "1HGCM82643A004352",
            "The VIN's check digit (9th character) is 4 but should be 3: the VIN is mistyped.",
        ),
        ("1HGCM82633A00435", "A VIN has exactly 17 characters; this one has 16."),
        ("1HGCM82633A00435O", "A VIN uses digits and letters other than I, O and Q; found O."),
    ],
)
def test_a_bad_vin_is_a_clear_field_error(owner_client, vin, message):
    response = owner_client.post(LIST_URL, {**ACCORD, "vin": vin}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["fields"]["vin"] == [message]
    assert body["detail"] == message
    assert not Vehicle.objects.exists()


@pytest.mark.django_db
def test_a_vin_already_registered_is_a_field_error(owner_client):
    VehicleFactory(vin=ACCORD["vin"])

    response = owner_client.post(LIST_URL, ACCORD, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"vin": ["A vehicle with this VIN is already registered."]}


@pytest.mark.django_db
def test_create_reports_every_missing_field(owner_client):
    response = owner_client.post(LIST_URL, {"trim": "EX"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"make", "model", "year", "vin"}


@pytest.mark.django_db
def test_the_owner_patches_a_vehicle(owner_client, vehicle):
    response = owner_client.patch(detail_url(vehicle.pk), {"mileage": 85_000}, format="json")

    assert response.status_code == 200
    assert response.json()["mileage"] == 85_000
    vehicle.refresh_from_db()
    assert vehicle.mileage == 85_000


@pytest.mark.django_db
def test_another_user_cannot_patch_a_vehicle(stranger_client, vehicle):
    response = stranger_client.patch(detail_url(vehicle.pk), {"mileage": 1}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "vehicle_not_owned"
    vehicle.refresh_from_db()
    assert vehicle.mileage == 84_000


@pytest.mark.django_db
def test_anonymous_clients_cannot_patch_a_vehicle(api_client, vehicle):
    response = api_client.patch(detail_url(vehicle.pk), {"mileage": 1}, format="json")

    assert response.status_code == 401


@pytest.mark.django_db
def test_patching_an_unknown_vehicle_is_404(owner_client):
    response = owner_client.patch(detail_url(999_999), {"mileage": 1}, format="json")

    assert response.status_code == 404


@pytest.mark.django_db
def test_patch_with_a_bad_vin_is_a_field_error(owner_client, vehicle):
    response = owner_client.patch(
        detail_url(vehicle.pk), {"vin": "1HGCM82643A004352"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["vin"]


@pytest.mark.django_db
def test_the_schema_describes_the_auth_and_vehicle_endpoints(client):
    response = client.get("/api/schema/", {"format": "json"})

    paths = response.json()["paths"]
    assert {"post"} <= set(paths["/api/v1/auth/register/"])
    assert {"post"} <= set(paths["/api/v1/auth/token/"])
    assert {"get", "post"} <= set(paths["/api/v1/vehicles/"])
    assert {"get", "patch"} <= set(paths["/api/v1/vehicles/{vehicle_id}/"])
