"""Operator controls (MARKET_RULES 1, 4 and 11): open, close, halt, resume, delist.

Each is an audit event. A forced open or close runs the auction now; the forced phase lasts
until the next scheduled transition that has not already happened for that trading date, which
follows from the phase being derived from the clock and the auctions that have run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import transaction

from market import clock, locks
from market.calendar import get_calendar
from market.errors import InstrumentDelisted, InstrumentNotFound
from market.models import (
    OPEN_STATUSES,
    AuctionKind,
    AuctionRecord,
    Instrument,
    InstrumentStatus,
    Order,
    OrderStatus,
)
from market.outbox import record_phase
from market.phases import Phase, instrument_phase
from market.services.auctions import auction_run
from market.services.audit import audit_log
from market.services.book import BookSession

ACTIONS = ("open", "close", "halt", "resume", "delist")


def market_open(
    *, symbol: str, actor_id: int | None = None, now: datetime | None = None
) -> AuctionRecord | None:
    """Run the opening auction now, then continuous trading."""
    now = now or clock.now()
    day = get_calendar().session_at(now).trading_date
    with transaction.atomic(durable=True):
        instrument = locks.instrument_for_update(symbol=symbol)
        _refuse_delisted(instrument)
        if instrument.first_trading_date > day:
            # A new listing opened early by an operator trades from today.
            instrument.first_trading_date = day
            instrument.save(update_fields=["first_trading_date", "updated_at"])
        audit_log(
            action="market.open", actor_id=actor_id, instrument_id=instrument.pk, trading_date=day
        )
    return auction_run(
        instrument_id=instrument.pk,
        trading_date=day,
        kind=AuctionKind.OPENING,
        actor_id=actor_id,
        now=now,
    )


def market_close(
    *, symbol: str, actor_id: int | None = None, now: datetime | None = None
) -> AuctionRecord | None:
    """Run the closing auction now: day orders expire and the next day's pre-open begins."""
    now = now or clock.now()
    day = get_calendar().session_at(now).trading_date
    instrument = _instrument(symbol)
    _refuse_delisted(instrument)
    audit_log(
        action="market.close", actor_id=actor_id, instrument_id=instrument.pk, trading_date=day
    )
    return auction_run(
        instrument_id=instrument.pk,
        trading_date=day,
        kind=AuctionKind.CLOSING,
        actor_id=actor_id,
        now=now,
    )


def market_halt(*, symbol: str, actor_id: int | None = None) -> Instrument:
    """Stop matching and new orders; cancels stay allowed."""
    return _set_status(symbol, InstrumentStatus.HALTED, "market.halt", actor_id)


def market_resume(
    *, symbol: str, actor_id: int | None = None, now: datetime | None = None
) -> Instrument:
    """Re-open a halted instrument through an auction of the orders collected meanwhile.
    An instrument that is not halted is left as it is."""
    now = now or clock.now()
    if _instrument(symbol).status != InstrumentStatus.HALTED:
        return _instrument(symbol)
    instrument = _set_status(symbol, InstrumentStatus.ACTIVE, "market.resume", actor_id)
    day = get_calendar().session_at(now).trading_date
    if instrument_phase(instrument, now=now) == Phase.CONTINUOUS:
        auction_run(
            instrument_id=instrument.pk,
            trading_date=day,
            kind=AuctionKind.REOPENING,
            actor_id=actor_id,
            now=now,
        )
    else:
        # The opening auction may have fallen due while halted: the clock's catch-up runs it.
        from market.services.auctions import market_catch_up

        market_catch_up(now=now)
    instrument.refresh_from_db()
    return instrument


def market_delist(
    *, symbol: str, actor_id: int | None = None, now: datetime | None = None
) -> Instrument:
    """Cancel every open order (releasing reservations) and stop trading; positions stay.
    Locks: the instrument, then the cash accounts of the open orders' owners."""
    now = now or clock.now()
    with transaction.atomic(durable=True):
        instrument = locks.instrument_for_update(symbol=symbol)
        session = BookSession(
            instrument, now=now, trading_date=get_calendar().session_at(now).trading_date
        )
        orders = session.track(
            Order.objects.filter(instrument=instrument, status__in=OPEN_STATUSES).order_by("pk")
        )
        session.load_accounts({order.user_id for order in orders})
        for order in orders:
            session.close(order, OrderStatus.CANCELLED)
        instrument.status = InstrumentStatus.DELISTED
        instrument.save(update_fields=["status", "updated_at"])
        session.audit("market.delist", actor_id=actor_id, cancelled_orders=len(orders))
        session.flush()
        record_phase(instrument=instrument, cause="delist", now=now)  # real-time streams
    return instrument


def market_control(*, action: str, symbol: str, actor_id: int | None = None) -> object:
    """One entry for the admin and `manage.py market_control`."""
    handlers: dict[str, Callable[..., object]] = {
        "open": market_open,
        "close": market_close,
        "halt": market_halt,
        "resume": market_resume,
        "delist": market_delist,
    }
    return handlers[action](symbol=symbol, actor_id=actor_id)


def _set_status(symbol: str, status: str, action: str, actor_id: int | None) -> Instrument:
    with transaction.atomic(durable=True):
        instrument = locks.instrument_for_update(symbol=symbol)
        _refuse_delisted(instrument)
        previous = instrument.status
        instrument.status = status
        instrument.save(update_fields=["status", "updated_at"])
        audit_log(
            action=action, actor_id=actor_id, instrument_id=instrument.pk, previous_status=previous
        )
        record_phase(
            instrument=instrument, cause=action.removeprefix("market.")
        )  # real-time streams
    return instrument


def _instrument(symbol: str) -> Instrument:
    try:
        return Instrument.objects.get(symbol=symbol.upper())
    except Instrument.DoesNotExist:
        raise InstrumentNotFound(symbol=symbol) from None


def _refuse_delisted(instrument: Instrument) -> None:
    if instrument.status == InstrumentStatus.DELISTED:
        raise InstrumentDelisted(symbol=instrument.symbol)
