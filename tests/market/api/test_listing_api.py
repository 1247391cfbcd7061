"""POST /api/v1/vehicles/{id}/list/: the owner starts trading a vehicle (MARKET_RULES 1)."""

import pytest

from market.models import Instrument, Position
from tests.factories import VehicleFactory

pytestmark = pytest.mark.django_db


def list_url(vehicle_id):
    return f"/api/v1/vehicles/{vehicle_id}/list/"


def test_owner_lists_1000_shares_at_100_and_holds_them_all(make_trader, client_for, travel):
    travel("09:00")
    owner = make_trader(cash="0")
    vehicle = VehicleFactory(owner=owner, make="Porsche", model="911", year=1973)
    client = client_for(owner)

    response = client.post(
        list_url(vehicle.pk),
        {"symbol": "pors73", "total_shares": 1000, "listing_price": "100.00"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert {key: body[key] for key in ("symbol", "total_shares", "listing_price", "phase")} == {
        "symbol": "PORS73",
        "total_shares": 1000,
        "listing_price": "100.00",
        "phase": "pre_open",
    }
    assert (body["name"], body["vehicle_id"], body["status"]) == (
        "1973 Porsche 911",
        vehicle.pk,
        "active",
    )
    assert (body["last_price"], body["previous_close"], body["reference_price"]) == (
        None,
        "100.00",
        "100.00",
    )
    portfolio = client.get("/api/v1/portfolio/").json()
    assert portfolio["positions"] == [
        {
            "symbol": "PORS73",
            "quantity": 1000,
            "quantity_available": 1000,
            "average_cost": "100.00",
            "mark_price": "100.00",
            "market_value": "100000.00",
            "cost_basis": "100000.00",
            "unrealized_pnl": "0.00",
            "unrealized_pnl_percent": "0.00",
            "realized_pnl": "0.00",
        }
    ]
    assert portfolio["totals"]["equity"] == "100000.00"


def test_listing_defaults_to_1000_shares_at_100(make_trader, client_for, travel):
    travel("09:00")
    owner = make_trader(cash="0")
    vehicle = VehicleFactory(owner=owner)

    response = client_for(owner).post(list_url(vehicle.pk), {}, format="json")

    assert response.status_code == 201
    assert (response.json()["total_shares"], response.json()["listing_price"]) == (1000, "100.00")
    assert Position.objects.get(user=owner).quantity == 1000


def test_only_the_owner_can_list_a_vehicle(make_trader, client_for):
    vehicle = VehicleFactory(owner=make_trader())

    response = client_for(make_trader()).post(list_url(vehicle.pk), {}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "not_owner")
    assert not Instrument.objects.exists()


@pytest.mark.parametrize("vehicle_id", [999_999, 2**70])
def test_listing_an_unknown_vehicle_is_not_found(make_trader, client_for, vehicle_id):
    response = client_for(make_trader()).post(list_url(vehicle_id), {}, format="json")

    assert response.status_code == 404


def test_listing_twice_is_a_conflict(make_trader, client_for, travel):
    travel("09:00")
    owner = make_trader()
    vehicle = VehicleFactory(owner=owner)
    client = client_for(owner)
    client.post(list_url(vehicle.pk), {}, format="json")

    response = client.post(list_url(vehicle.pk), {}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "already_listed")
    assert Instrument.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"total_shares": 0}, "total_shares"),
        ({"total_shares": 1_000_001}, "total_shares"),
        ({"total_shares": "1000"}, "total_shares"),
        ({"total_shares": 10.5}, "total_shares"),
        ({"listing_price": 100.5}, "listing_price"),
        ({"listing_price": "100.005"}, "listing_price"),
        ({"listing_price": "-1"}, "listing_price"),
        ({"listing_price": "1e3"}, "listing_price"),
        ({"symbol": "AB"}, "symbol"),
        ({"symbol": "HAS SPACE"}, "symbol"),
        ({"symbol": 12345}, "symbol"),
        ({"symbol": "X" * 13}, "symbol"),
    ],
)
def test_bad_listing_input_is_refused_and_nothing_is_listed(
    make_trader, client_for, travel, payload, field
):
    travel("09:00")
    owner = make_trader()
    vehicle = VehicleFactory(owner=owner)

    response = client_for(owner).post(list_url(vehicle.pk), payload, format="json")

    assert (response.status_code, list(response.json()["fields"])) == (400, [field])
    assert not Instrument.objects.exists()


def test_taken_symbol_is_refused(make_instrument, make_trader, client_for, travel):
    travel("09:00")
    taken = make_instrument()
    owner = make_trader()
    vehicle = VehicleFactory(owner=owner)

    response = client_for(owner).post(list_url(vehicle.pk), {"symbol": taken.symbol}, format="json")

    assert (response.status_code, response.json()["code"]) == (400, "symbol_taken")
