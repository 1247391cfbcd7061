"""seed_demo: the vehicles, people, instruments and day of history of the demo market."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from accounts.models import User
from market.calendar import get_calendar
from market.demo.data import DEMO_PASSWORD, DEMO_USERNAME, TRADERS, VEHICLES, DemoVehicle
from market.demo.pictures import vehicle_picture_jpeg
from market.models import (
    AuctionKind,
    AuctionRecord,
    CashAccount,
    Instrument,
    LedgerEntry,
    Order,
    OrderStatus,
    Position,
    Side,
    TimeInForce,
    Trade,
    TradeKind,
)
from market.services.reconcile import reconcile
from tests.market.demo.conftest import HISTORY_DAY, TEST_HISTORY_TRADES
from vehicles.models import Vehicle, VehicleEvent, VehiclePhoto, VehicleSpec
from vehicles.validators import validate_vin, vin_check_digit

SEED_COMMAND = ("seed_demo", "--history-trades", str(TEST_HISTORY_TRADES))
COUNTED = (
    User,
    Vehicle,
    VehiclePhoto,
    VehicleSpec,
    VehicleEvent,
    Instrument,
    Order,
    Trade,
    AuctionRecord,
    Position,
    CashAccount,
    LedgerEntry,
)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


@pytest.mark.parametrize("vehicle", VEHICLES, ids=lambda vehicle: vehicle.symbol)
def test_demo_vins_carry_their_check_digit(vehicle: DemoVehicle):
    validate_vin(vehicle.vin)

    assert vehicle.vin[8] == vin_check_digit(vehicle.vin)


def test_demo_vehicles_have_a_timeline_of_three_to_five_events():
    assert {len(vehicle.events) for vehicle in VEHICLES} <= {3, 4, 5}
    assert 6 <= len(VEHICLES) <= 8


def test_demo_picture_is_a_jpeg_card():
    picture = Image.open(io.BytesIO(vehicle_picture_jpeg(VEHICLES[0])))

    assert (picture.format, picture.size) == ("JPEG", (1200, 750))


@pytest.mark.usefixtures("db", "at_seed_time")
def test_seed_demo_makes_the_demo_market_once(client):
    first = io.StringIO()
    call_command(*SEED_COMMAND, stdout=first)
    made = counts()

    second = io.StringIO()
    call_command(*SEED_COMMAND, stdout=second)

    assert counts() == made
    assert "nothing changed" in second.getvalue()
    assert f"password '{DEMO_PASSWORD}'" in first.getvalue()
    assert_vehicles_with_specs_timelines_and_pictures()
    assert_listed_with_traders_holding_paper_money()
    assert_a_day_of_history_with_both_auctions()
    assert client.login(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    assert CashAccount.objects.get(user__username=DEMO_USERNAME).balance_amount > 0
    assert [str(found) for found in reconcile()] == []


def assert_vehicles_with_specs_timelines_and_pictures() -> None:
    vehicles = Vehicle.objects.prefetch_related("photos", "specs", "events")
    assert sorted(vehicle.vin for vehicle in vehicles) == sorted(v.vin for v in VEHICLES)
    assert all(vehicle.specs.count() >= 4 for vehicle in vehicles)
    assert all(3 <= vehicle.events.count() <= 5 for vehicle in vehicles)
    photos = [photo for vehicle in vehicles for photo in vehicle.photos.all()]
    assert len(photos) == len(VEHICLES)
    assert all(photo.image.storage.exists(photo.image.name) for photo in photos)
    with photos[0].image.open("rb") as stored:
        assert Image.open(stored).size == (1200, 750)


def assert_listed_with_traders_holding_paper_money() -> None:
    traders = CashAccount.objects.filter(
        user__username__in=[trader.username for trader in TRADERS]
    ).select_related("user")
    assert sorted(Instrument.objects.values_list("symbol", flat=True)) == sorted(
        vehicle.symbol for vehicle in VEHICLES
    )
    assert traders.count() == len(TRADERS) >= 30
    assert all(account.balance_amount > 0 for account in traders)
    assert all(account.user.display_name for account in traders)


def assert_a_day_of_history_with_both_auctions() -> None:
    calendar = get_calendar()
    auctions = AuctionRecord.objects.filter(trading_date=HISTORY_DAY)
    continuous = Trade.objects.filter(trading_date=HISTORY_DAY, kind=TradeKind.CONTINUOUS)
    minutes = {trade.executed_at.replace(second=0, microsecond=0) for trade in continuous}
    resting = Order.objects.filter(status=OrderStatus.OPEN, time_in_force=TimeInForce.GTC)
    assert auctions.filter(kind=AuctionKind.OPENING, volume__gt=0).count() == len(VEHICLES)
    assert auctions.filter(kind=AuctionKind.CLOSING).count() == len(VEHICLES)
    assert len(minutes) >= 3 * len(VEHICLES)
    assert calendar.open_at(HISTORY_DAY) <= min(minutes)
    assert max(minutes) < calendar.closing_call_at(HISTORY_DAY)
    assert {Side.BUY, Side.SELL} <= set(resting.values_list("side", flat=True))


@pytest.mark.usefixtures("at_seed_time")
def test_seed_if_empty_does_nothing_once_an_instrument_exists(make_instrument):
    make_instrument()
    before = counts()
    out = io.StringIO()

    call_command("seed_demo", "--if-empty", stdout=out)

    assert counts() == before
    assert "nothing to do" in out.getvalue()


@pytest.mark.usefixtures("db")
def test_seed_refuses_without_demo_mode(settings):
    settings.MARKET_DEMO_MODE = False

    with pytest.raises(CommandError, match="MARKET_DEMO_MODE"):
        call_command(*SEED_COMMAND)
