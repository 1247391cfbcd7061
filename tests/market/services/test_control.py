"""Operator controls (MARKET_RULES 1, 4 and 11): halt, resume, forced open and close, delist,
from the services and from `manage.py market_control`. Each action is an audit event."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from market.errors import InstrumentDelisted, MarketHalted
from market.models import (
    AuctionKind,
    AuctionRecord,
    AuditEvent,
    CashAccount,
    Instrument,
    InstrumentStatus,
    OrderStatus,
    Position,
    Trade,
)
from market.phases import Phase, instrument_phase
from market.services.auctions import market_catch_up
from market.services.control import (
    market_close,
    market_delist,
    market_halt,
    market_open,
    market_resume,
)
from market.services.orders import order_cancel, order_place
from market.services.reconcile import reconcile
from tests.market.conftest import TRADING_DAY

pytestmark = pytest.mark.django_db

NEXT_DAY = date(2026, 11, 19)


def place(user, instrument, side, quantity, price=None, **kwargs):
    kwargs.setdefault("type", "limit" if price is not None else "market")
    return order_place(
        user_id=user.pk,
        symbol=instrument.symbol,
        side=side,
        quantity=quantity,
        price=price,
        **kwargs,
    )


def reserved_cash(user) -> Decimal:
    return CashAccount.objects.get(user=user).reserved_amount


def reserved_shares(user, instrument) -> int:
    return Position.objects.get(user=user, instrument=instrument).reserved_quantity


def phase_of(instrument: Instrument) -> Phase:
    instrument.refresh_from_db()
    return instrument_phase(instrument)


def status_of(order) -> str:
    order.refresh_from_db()
    return order.status


def audited(action: str, instrument: Instrument) -> list[dict]:
    return list(
        AuditEvent.objects.filter(action=action, instrument=instrument)
        .order_by("pk")
        .values_list("data", flat=True)
    )


def auctions(instrument: Instrument) -> list[tuple[date, str]]:
    return list(
        AuctionRecord.objects.filter(instrument=instrument)
        .order_by("pk")
        .values_list("trading_date", "kind")
    )


@pytest.fixture
def operator(make_trader):
    return make_trader(cash="0", name="operator")


# --- halt and resume ------------------------------------------------------------------------


def test_halt_refuses_new_orders_but_allows_cancels(continuous_instrument, make_trader, operator):
    instrument = continuous_instrument()
    buyer = make_trader(cash="20000.00")
    bid = place(buyer, instrument, "buy", 10, "99.00")

    market_halt(symbol=instrument.symbol, actor_id=operator.pk)

    assert phase_of(instrument) == Phase.HALTED
    with pytest.raises(MarketHalted) as refused:
        place(buyer, instrument, "buy", 10, "99.00")
    assert (refused.value.status, refused.value.code) == (409, "market_halted")
    order_cancel(user_id=buyer.pk, order_id=bid.pk)
    assert status_of(bid) == OrderStatus.CANCELLED
    assert reserved_cash(buyer) == Decimal("0.00")
    assert audited("market.halt", instrument) == [{"previous_status": "active"}]
    assert AuditEvent.objects.get(action="market.halt").actor_id == operator.pk
    assert [str(found) for found in reconcile()] == []


def test_resume_in_continuous_hours_runs_a_reopening_auction(
    continuous_instrument, make_trader, travel, operator
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    buyer = make_trader(cash="20000.00")
    bid = place(buyer, instrument, "buy", 10, "99.00")
    ask = place(owner, instrument, "sell", 10, "101.00")
    travel("11:00")
    market_halt(symbol=instrument.symbol)

    travel("11:30")
    market_resume(symbol=instrument.symbol, actor_id=operator.pk)

    reopening = AuctionRecord.objects.get(kind=AuctionKind.REOPENING)
    assert (reopening.trading_date, reopening.orders_count) == (TRADING_DAY, 2)
    # The collected orders do not cross: nothing trades and they rest on.
    assert (reopening.price, reopening.volume) == (None, 0)
    assert (status_of(bid), status_of(ask)) == (OrderStatus.OPEN, OrderStatus.OPEN)
    assert phase_of(instrument) == Phase.CONTINUOUS
    assert audited("market.resume", instrument) == [{"previous_status": "halted"}]
    assert AuditEvent.objects.filter(action="auction.reopening", actor=operator).exists()
    assert [str(found) for found in reconcile()] == []


def test_resume_after_a_halt_through_the_open_runs_the_opening_auction(
    make_instrument, make_trader, travel
):
    travel("09:00")
    instrument = make_instrument()
    buyer = make_trader(cash="20000.00")
    place(instrument.vehicle.owner, instrument, "sell", 10, "100.00")
    place(buyer, instrument, "buy", 10, "100.00")
    market_halt(symbol=instrument.symbol)
    travel("09:30")
    assert market_catch_up() == [], "a halted instrument does not auction"

    travel("10:00")
    market_resume(symbol=instrument.symbol)

    # The orders collected before the halt meet in the day's opening auction.
    assert auctions(instrument) == [(TRADING_DAY, AuctionKind.OPENING)]
    assert Trade.objects.get().quantity == 10
    assert phase_of(instrument) == Phase.CONTINUOUS
    assert [str(found) for found in reconcile()] == []


# --- forced open and close ------------------------------------------------------------------


def test_forced_open_before_0930_starts_continuous_trading_and_the_clock_does_not_reopen(
    make_instrument, make_trader, travel, operator
):
    travel("09:00")
    instrument = make_instrument()
    owner = instrument.vehicle.owner
    buyer = make_trader(cash="20000.00")
    place(owner, instrument, "sell", 20, "100.00")
    place(buyer, instrument, "buy", 10, "100.00")

    travel("09:10")
    record = market_open(symbol=instrument.symbol, actor_id=operator.pk)

    assert record is not None
    assert (record.kind, record.trading_date, record.volume) == (
        AuctionKind.OPENING,
        TRADING_DAY,
        10,
    )
    assert phase_of(instrument) == Phase.CONTINUOUS
    # Continuous trading: a crossing order matches at once.
    place(buyer, instrument, "buy", 5, "100.00")
    assert Trade.objects.count() == 2
    assert audited("market.open", instrument) == [{"trading_date": "2026-11-18"}]

    travel("09:30")
    assert market_catch_up() == []
    assert auctions(instrument) == [(TRADING_DAY, AuctionKind.OPENING)]
    assert phase_of(instrument) == Phase.CONTINUOUS
    assert [str(found) for found in reconcile()] == []


def test_forced_close_mid_day_closes_until_the_next_opening(
    continuous_instrument, make_trader, travel, operator
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    buyer = make_trader(cash="20000.00")
    day_bid = place(buyer, instrument, "buy", 10, "90.00")
    gtc_bid = place(buyer, instrument, "buy", 10, "91.00", time_in_force="gtc")

    travel("12:00")
    record = market_close(symbol=instrument.symbol, actor_id=operator.pk)

    assert record is not None
    assert (record.kind, record.trading_date) == (AuctionKind.CLOSING, TRADING_DAY)
    assert status_of(day_bid) == OrderStatus.EXPIRED
    assert status_of(gtc_bid) == OrderStatus.OPEN
    assert reserved_cash(buyer) == Decimal("919.10")
    assert audited("market.close", instrument) == [{"trading_date": "2026-11-18"}]
    assert phase_of(instrument) == Phase.PRE_OPEN
    # Orders collect without matching until the next opening.
    travel("13:00")
    place(owner, instrument, "sell", 10, "91.00")
    assert not Trade.objects.exists()
    travel("15:57")
    assert phase_of(instrument) == Phase.PRE_OPEN
    travel("16:00")
    assert market_catch_up() == [], "the day is closed already"
    travel("09:00", NEXT_DAY)
    assert phase_of(instrument) == Phase.PRE_OPEN

    travel("09:30", NEXT_DAY)
    [opening] = market_catch_up()

    assert (opening.kind, opening.trading_date, opening.volume) == (
        AuctionKind.OPENING,
        NEXT_DAY,
        10,
    )
    assert status_of(gtc_bid) == OrderStatus.FILLED
    assert phase_of(instrument) == Phase.CONTINUOUS
    assert [str(found) for found in reconcile()] == []


# --- delist ---------------------------------------------------------------------------------


def test_delist_cancels_every_open_order_and_releases_reservations(
    continuous_instrument, make_trader, operator
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    buyer = make_trader(cash="20000.00")
    bids = [
        place(buyer, instrument, "buy", 10, "90.00"),
        place(buyer, instrument, "buy", 10, "91.00", time_in_force="gtc"),
    ]
    ask = place(owner, instrument, "sell", 100, "110.00")

    market_delist(symbol=instrument.symbol, actor_id=operator.pk)

    assert [status_of(order) for order in [*bids, ask]] == [OrderStatus.CANCELLED] * 3
    assert reserved_cash(buyer) == Decimal("0.00")
    assert reserved_shares(owner, instrument) == 0
    # Positions stay.
    assert Position.objects.get(user=owner, instrument=instrument).quantity == 1000
    assert phase_of(instrument) == Phase.DELISTED
    assert audited("market.delist", instrument) == [{"cancelled_orders": 3}]
    with pytest.raises(InstrumentDelisted):
        place(buyer, instrument, "buy", 1, "90.00")
    with pytest.raises(InstrumentDelisted):
        market_open(symbol=instrument.symbol)
    assert [str(found) for found in reconcile()] == []


# --- manage.py market_control ---------------------------------------------------------------


def test_market_control_command_halts_one_instrument(continuous_instrument, capsys):
    instrument = continuous_instrument()
    other = continuous_instrument()

    call_command("market_control", "halt", instrument.symbol.lower())

    instrument.refresh_from_db()
    other.refresh_from_db()
    assert (instrument.status, other.status) == (InstrumentStatus.HALTED, InstrumentStatus.ACTIVE)
    assert f"{instrument.symbol}: halt done" in capsys.readouterr().out
    assert len(audited("market.halt", instrument)) == 1


def test_market_control_command_halts_and_resumes_all(continuous_instrument, travel):
    listed = [continuous_instrument() for _ in range(2)]
    delisted = continuous_instrument()
    market_delist(symbol=delisted.symbol)

    call_command("market_control", "halt", "--all")

    statuses = set(
        Instrument.objects.filter(pk__in=[i.pk for i in listed]).values_list("status", flat=True)
    )
    assert statuses == {InstrumentStatus.HALTED}
    assert AuditEvent.objects.filter(action="market.halt").count() == 2

    travel("11:00")
    call_command("market_control", "resume", "--all")

    assert {phase_of(instrument) for instrument in listed} == {Phase.CONTINUOUS}
    assert phase_of(delisted) == Phase.DELISTED
    assert AuditEvent.objects.filter(action="market.resume").count() == 2


def test_market_control_command_needs_one_symbol_or_all(continuous_instrument):
    instrument = continuous_instrument()

    with pytest.raises(CommandError, match="SYMBOL or pass --all"):
        call_command("market_control", "halt")
    with pytest.raises(CommandError, match="SYMBOL or pass --all"):
        call_command("market_control", "halt", instrument.symbol, "--all")


def test_market_control_command_reports_a_refused_action(continuous_instrument, capsys):
    instrument = continuous_instrument()
    market_delist(symbol=instrument.symbol)

    with pytest.raises(CommandError, match="1 of 1"):
        call_command("market_control", "open", instrument.symbol)

    assert "delisted" in capsys.readouterr().err


def test_resume_of_an_instrument_that_is_not_halted_changes_nothing(continuous_instrument):
    instrument = continuous_instrument()
    auctions_before = AuctionRecord.objects.count()

    market_resume(symbol=instrument.symbol)

    assert AuctionRecord.objects.count() == auctions_before
    assert not AuditEvent.objects.filter(action="market.resume").exists()
