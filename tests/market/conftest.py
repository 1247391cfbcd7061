"""Market fixtures: a trading day on the real calendar, traders with cash, listed vehicles.

Time is travelled with time-machine to a Wednesday in November 2026 (no holiday near it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import User
from market.models import AuctionKind, Instrument
from market.services.auctions import auction_run
from market.services.ledger import cash_account_open, cash_deposit
from market.services.listings import instrument_list
from vehicles.models import Vehicle
from vehicles.validators import vin_check_digit

NEW_YORK = ZoneInfo("America/New_York")
TRADING_DAY = date(2026, 11, 18)

_serial = itertools.count(1)


def market_time(hhmm: str, day: date = TRADING_DAY) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=NEW_YORK)


def make_vin(serial: int) -> str:
    body = f"1HGCM8263{serial:08d}"[-17:]
    vin = body[:8] + "0" + body[9:]
    return vin[:8] + vin_check_digit(vin) + vin[9:]


@pytest.fixture
def travel() -> Iterator[Callable[[str], None]]:
    """travel("09:00") moves the clock to that market time on the trading day (frozen)."""
    traveller: list[time_machine.travel] = []

    def go(hhmm: str, day: date = TRADING_DAY) -> None:
        if traveller:
            traveller.pop().stop()
        machine = time_machine.travel(market_time(hhmm, day), tick=False)
        machine.start()
        traveller.append(machine)

    yield go
    if traveller:
        traveller.pop().stop()


@pytest.fixture
def make_trader(db: None, settings) -> Callable[..., User]:
    """A trader with exactly `cash` (paper money off, so the amounts are the test's own)."""
    settings.MARKET_DEMO_MODE = False

    def make(cash: Decimal | str = "10000.00", name: str | None = None) -> User:
        serial = next(_serial)
        user = User.objects.create_user(username=name or f"trader{serial}", password="x-Pass-1234")
        cash_account_open(user=user)
        if Decimal(cash) > 0:
            cash_deposit(user_id=user.pk, amount=cash)
        return user

    return make


@pytest.fixture
def make_instrument(db: None, make_trader: Callable[..., User]) -> Callable[..., Instrument]:
    """A vehicle listed by a new owner during the pre-open, so it joins the day's opening."""

    def make(
        owner: User | None = None, total_shares: int = 1000, listing_price: str = "100.00"
    ) -> Instrument:
        owner = owner or make_trader(cash="0")
        serial = next(_serial)
        vehicle = Vehicle.objects.create(
            owner=owner, make="Porsche", model="911", year=1973, vin=make_vin(serial)
        )
        return instrument_list(
            user_id=owner.pk,
            vehicle=vehicle,
            symbol=f"CAR{serial}",
            total_shares=total_shares,
            listing_price=listing_price,
        )

    return make


@pytest.fixture
def continuous_instrument(
    travel: Callable[[str], None], make_instrument: Callable[..., Instrument]
) -> Callable[..., Instrument]:
    """An instrument in continuous trading: listed at 09:00, opened by an empty auction."""

    def make(**kwargs: object) -> Instrument:
        travel("09:00")
        instrument = make_instrument(**kwargs)
        travel("10:00")
        auction_run(instrument_id=instrument.pk, trading_date=TRADING_DAY, kind=AuctionKind.OPENING)
        instrument.refresh_from_db()
        return instrument

    return make
