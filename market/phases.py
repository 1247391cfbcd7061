"""The phase of an instrument: a function of the market clock, its status and the auctions that
have run for the trading date, never of which process happened to be alive (MARKET_RULES 4)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

from market import clock
from market.calendar import SessionPhase, get_calendar
from market.models import AuctionKind, AuctionRecord, Instrument, InstrumentStatus


class Phase(StrEnum):
    PRE_OPEN = "pre_open"
    CONTINUOUS = "continuous"
    CLOSING_CALL = "closing_call"
    HALTED = "halted"
    DELISTED = "delisted"


# Orders collect and nothing matches; the indicative auction price is published.
CALL_PHASES = frozenset({Phase.PRE_OPEN, Phase.CLOSING_CALL})


def trading_date_at(now: datetime | None = None) -> date:
    """The trading date whose session `now` belongs to (after the close: the next one)."""
    return get_calendar().session_at(now or clock.now()).trading_date


def instrument_phase(
    instrument: Instrument, *, now: datetime | None = None, auction_kinds: set[str] | None = None
) -> Phase:
    """`auction_kinds`: the kinds of auction already run today, when the caller has them."""
    if instrument.status == InstrumentStatus.DELISTED:
        return Phase.DELISTED
    if instrument.status == InstrumentStatus.HALTED:
        return Phase.HALTED
    session = get_calendar().session_at(now or clock.now())
    day = session.trading_date
    if instrument.first_trading_date > day:
        # A new listing collects orders until its first opening auction.
        return Phase.PRE_OPEN
    if auction_kinds is None:
        auction_kinds = set(
            AuctionRecord.objects.filter(instrument=instrument, trading_date=day).values_list(
                "kind", flat=True
            )
        )
    if AuctionKind.CLOSING in auction_kinds:
        # Closed early by an operator: the next day's pre-open has begun.
        return Phase.PRE_OPEN
    if session.phase == SessionPhase.CLOSING_CALL:
        return Phase.CLOSING_CALL
    if AuctionKind.OPENING in auction_kinds:
        return Phase.CONTINUOUS
    # Before 09:30, or after it while the opening auction is still due (the clock catches up).
    return Phase.PRE_OPEN


def instrument_phases(instruments: Iterable[Instrument], *, now: datetime) -> dict[int, Phase]:
    """Each instrument's phase by primary key, with one query for today's auctions of all."""
    instruments = list(instruments)
    day = trading_date_at(now)
    ran: dict[int, set[str]] = {instrument.pk: set() for instrument in instruments}
    for instrument_id, kind in AuctionRecord.objects.filter(
        instrument__in=instruments, trading_date=day
    ).values_list("instrument_id", "kind"):
        ran[instrument_id].add(kind)
    return {
        instrument.pk: instrument_phase(instrument, now=now, auction_kinds=ran[instrument.pk])
        for instrument in instruments
    }
