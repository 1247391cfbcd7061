"""Rollup fixtures: orders through the services, whole trading days, and a week of them
around Thanksgiving (2026-11-26, an NYSE holiday)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest

from accounts.models import User
from market.models import Instrument, Order
from market.services.auctions import market_catch_up
from market.services.orders import order_place
from market.services.reconcile import reconcile

MONDAY = date(2026, 11, 23)
TUESDAY = date(2026, 11, 24)
WEDNESDAY = date(2026, 11, 25)
THANKSGIVING = date(2026, 11, 26)
FRIDAY = date(2026, 11, 27)
NEXT_MONDAY = date(2026, 11, 30)
NEXT_TUESDAY = date(2026, 12, 1)
WEEK = [MONDAY, TUESDAY, WEDNESDAY, FRIDAY, NEXT_MONDAY]


@pytest.fixture(autouse=True)
def live_board_not_cached(settings) -> None:
    settings.MARKET_LEADERBOARD_LIVE_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def books_reconcile_after_each_test(request: pytest.FixtureRequest):
    yield
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        assert [str(found) for found in reconcile()] == []


def place(user: User, instrument: Instrument, side: str, quantity: int, price: str) -> Order:
    return order_place(
        user_id=user.pk,
        symbol=instrument.symbol,
        side=side,
        type="limit",
        quantity=quantity,
        price=price,
    )


@pytest.fixture
def trade_in_opening_auction(travel) -> Callable[..., None]:
    """On `day`: `seller` sells `quantity` to `buyer` in the opening auction at `price`, and the
    closing auction runs (empty: the day's mark is the opening price)."""

    def run(
        day: date, instrument: Instrument, seller: User, buyer: User, quantity: int, price: str
    ):
        travel("09:00", day)
        market_catch_up()
        place(seller, instrument, "sell", quantity, price)
        place(buyer, instrument, "buy", quantity, price)
        travel("09:31", day)
        market_catch_up()
        travel("16:01", day)
        market_catch_up()

    return run


@dataclass
class Week:
    instrument: Instrument
    holder: User
    first_buyer: User
    second_buyer: User


@pytest.fixture
def thanksgiving_week(travel, make_trader, make_instrument, trade_in_opening_auction) -> Week:
    """The holder lists 1,000 @ $100.00 on Monday 2026-11-23 and sells 10 at the open at
    $101.00; then one share changes hands at each open, $1.00 higher every trading day
    (Tuesday, Wednesday, Friday, next Monday): the holder's 990 shares gain every day."""
    travel("08:00", MONDAY)
    holder = make_trader(cash="0", name="holder")
    instrument = make_instrument(owner=holder)
    first_buyer = make_trader(cash="5000.00", name="first_buyer")
    second_buyer = make_trader(cash="5000.00", name="second_buyer")
    trade_in_opening_auction(MONDAY, instrument, holder, first_buyer, 10, "101.00")
    for day, price in zip(WEEK[1:], ["102.00", "103.00", "104.00", "105.00"], strict=True):
        trade_in_opening_auction(day, instrument, first_buyer, second_buyer, 1, price)
    return Week(instrument, holder, first_buyer, second_buyer)
