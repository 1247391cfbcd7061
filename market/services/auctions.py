"""Call auctions, the end of the day, and the market clock's catch-up (MARKET_RULES 4 and 5).

Every step is idempotent: an auction is stored once per instrument, trading date and kind
(a unique constraint, checked under the instrument lock), so a job that runs twice, or on two
workers at once, makes one auction.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from market import clock, locks
from market.calendar import SessionPhase, get_calendar
from market.engine import indicative, uncross_at
from market.models import (
    AuctionKind,
    AuctionRecord,
    Instrument,
    InstrumentStatus,
    Order,
    OrderStatus,
    TimeInForce,
    TradeKind,
)
from market.outbox import record_auction
from market.selectors import auction_orders, auction_participants, book_levels
from market.services.book import BookSession

logger = logging.getLogger(__name__)

# Orders loaded per query by primary key (SQLite's limit on query parameters).
TRACK_CHUNK = 5000

TRADE_KIND = {
    AuctionKind.OPENING: TradeKind.OPENING_AUCTION,
    AuctionKind.CLOSING: TradeKind.CLOSING_AUCTION,
    AuctionKind.REOPENING: TradeKind.REOPENING_AUCTION,
}


def auction_run(
    *,
    instrument_id: int,
    trading_date: date,
    kind: str,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> AuctionRecord | None:
    """Uncross the instrument's collected orders at one price and store the result.

    Returns the auction (the one already stored, if it ran before), or None when the
    instrument does not auction now (halted, delisted, or the day already closed).
    Locks: the instrument, then the cash accounts of everyone who trades or whose orders end.
    """
    now = now or clock.now()
    with transaction.atomic(durable=True):
        instrument = locks.instrument_for_update(pk=instrument_id)
        ran = {
            record.kind: record
            for record in AuctionRecord.objects.filter(
                instrument=instrument, trading_date=trading_date
            )
        }
        if kind in ran and kind != AuctionKind.REOPENING:
            return ran[kind]
        if instrument.status != InstrumentStatus.ACTIVE or AuctionKind.CLOSING in ran:
            return None
        session = BookSession(instrument, now=now, trading_date=trading_date)
        reference = instrument.reference_price
        # The price from the book's price levels, then only the orders that price involves.
        book = book_levels([instrument.pk])[instrument.pk]
        participant_ids = auction_participants(instrument.pk)
        price = indicative(book.levels, reference).price
        collected = auction_orders(
            instrument.pk, price=price, ending=_ending(AuctionKind(kind), trading_date)
        )
        result = uncross_at([engine_order for engine_order, _ in collected], price)
        ending_ids = [engine_order.id for engine_order, facts in collected if facts.ends]
        # Model instances only for the orders that change: a deep book has far more that don't.
        _track_by_pk(session, {cast(int, order_id) for order_id in (*ending_ids, *result.fills)})
        ending = [session.orders[order_id] for order_id in ending_ids]
        involved = {order.user_id for order in session.orders.values()}
        session.load_accounts(involved)

        record = AuctionRecord.objects.create(
            instrument=instrument,
            trading_date=trading_date,
            kind=kind,
            price=result.price,
            volume=result.volume,
            surplus=result.surplus,
            reference_price=reference,
            orders_count=book.orders,
        )
        for match in result.matches:
            assert result.price is not None
            session.execute(
                buy=session.orders[match.buy_id],
                sell=session.orders[match.sell_id],
                price=result.price,
                quantity=match.qty,
                kind=TRADE_KIND[AuctionKind(kind)],
                auction=record,
            )
        for order in ending:
            if order.is_open:
                # Market orders live for one auction; day orders end with the closing auction.
                status = OrderStatus.CANCELLED if order.price is None else OrderStatus.EXPIRED
                session.close(order, status)
        session.audit(
            f"auction.{kind}",
            actor_id=actor_id,
            trading_date=trading_date,
            price=result.price,
            volume=result.volume,
            surplus=result.surplus,
            auction_id=record.pk,
        )
        session.flush()
        record_auction(auction=record, instrument=instrument, participant_ids=participant_ids, now=now)  # fmt: skip  # real-time streams
    logger.info(
        "%s %s auction %s: %s @ %s",
        instrument.symbol,
        kind,
        trading_date,
        record.volume,
        record.price,
    )
    return record


def _ending(kind: AuctionKind, trading_date: date) -> Q:
    """The open orders an auction ends, unless they fill: market orders live for one auction;
    the closing auction ends the day orders, and good-till-cancelled ones after 90 days."""
    ending = Q(price__isnull=True)
    if kind == AuctionKind.CLOSING:
        oldest_gtc = trading_date - timedelta(days=settings.MARKET_GTC_MAX_DAYS)
        ending |= Q(time_in_force=TimeInForce.DAY) | Q(
            time_in_force=TimeInForce.GTC, trading_date__lte=oldest_gtc
        )
    return ending


def _track_by_pk(session: BookSession, order_ids: set[int]) -> None:
    ids = sorted(order_ids)
    for start in range(0, len(ids), TRACK_CHUNK):
        chunk = ids[start : start + TRACK_CHUNK]
        session.track(Order.objects.filter(pk__in=chunk).order_by("pk"))


def market_catch_up(*, now: datetime | None = None) -> list[AuctionRecord]:
    """Run every scheduled auction that is due and has not run: the last closing auction and
    today's opening auction, for each active instrument. Called by Celery beat at 09:30 and
    16:00, by a frequent catch-up task, and by the embedded clock; safe to run any time."""
    now = now or clock.now()
    calendar = get_calendar()
    session = calendar.session_at(now)
    last_close = calendar.last_close(now)
    last_open = calendar.last_open(now)
    opening_due = session.phase in (SessionPhase.CONTINUOUS, SessionPhase.CLOSING_CALL)
    records: list[AuctionRecord] = []
    for instrument in Instrument.objects.filter(status=InstrumentStatus.ACTIVE).order_by("pk"):
        due: list[tuple[date, str]] = []
        if last_close is not None and last_close >= instrument.first_trading_date:
            due.append((last_close, AuctionKind.CLOSING))
        if opening_due and last_open is not None and last_open >= instrument.first_trading_date:
            due.append((last_open, AuctionKind.OPENING))
        for trading_date, kind in due:
            if AuctionRecord.objects.filter(
                instrument=instrument, trading_date=trading_date, kind__in=_done_by(kind)
            ).exists():
                continue
            record = auction_run(
                instrument_id=instrument.pk, trading_date=trading_date, kind=kind, now=now
            )
            if record is not None:
                records.append(record)
    return records


def _done_by(kind: str) -> list[str]:
    """An opening auction is no longer due once the day has closed."""
    if kind == AuctionKind.OPENING:
        return [AuctionKind.OPENING, AuctionKind.CLOSING]
    return [AuctionKind.CLOSING]
