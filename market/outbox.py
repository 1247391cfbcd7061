"""Writing real-time events: the transactional outbox (MARKET_RULES 9, docs/realtime.md).

Services call the `record_*` functions inside their transaction, next to the change they
describe; never from signals or `save()`. Each call inserts `MarketEvent` rows and asks for a
relay of the streams it touched once the transaction commits (`transaction.on_commit`): a
rolled-back transaction leaves no event and sends nothing. `market.relay` publishes.

Public, `instrument.<SYMBOL>`: `trade`, `phase`, and the markers `book`, `ticker`,
`indicative` (no data: the relay computes the state when it publishes). Private, `user.<id>`:
`order`, `fill`, `account`, `position`, `notification`. Amounts are decimal strings.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from market import clock, locks
from market.broadcast import instrument_stream, user_stream
from market.calendar import get_calendar
from market.models import (
    AuctionRecord,
    CashAccount,
    Instrument,
    InstrumentStatus,
    MarketEvent,
    Notification,
    Order,
    Position,
    Trade,
)
from market.money import cents
from market.phases import instrument_phase, trading_date_at
from market.services import notifications
from market.services.bulk import bulk_insert_rows

# Markers: "this state changed"; coalesced by the relay into one state message each.
BOOK = "book"
TICKER = "ticker"
INDICATIVE = "indicative"
MARKERS = frozenset({BOOK, TICKER, INDICATIVE})
PHASE = "phase"


# --- payloads ---------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(cents(value))


def _time(value: datetime | None) -> str | None:
    """ISO 8601 in the market's time zone, with its offset (as the REST API shows times; no
    request activates another zone)."""
    return None if value is None else _iso(value, settings.TIME_ZONE)


@functools.lru_cache(maxsize=256)
def _iso(value: datetime, zone: str) -> str:
    # Cached (`zone` in the key): the rows of a batch, thousands in an auction, share one `now`.
    return timezone.localtime(value, timezone.get_default_timezone()).isoformat()


def _json(data: dict[str, Any]) -> str:
    # orjson: an auction encodes some 30,000 events, 8 microseconds each with json, 1 with it.
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()


def trade_data(trade: Trade, symbol: str) -> dict[str, Any]:
    return {
        "id": trade.pk,
        "symbol": symbol,
        "price": str(trade.price),
        "quantity": trade.quantity,
        "executed_at": _time(trade.executed_at),
        "kind": trade.kind,
    }


def order_data(order: Order, symbol: str) -> dict[str, Any]:
    """The order as `GET /api/v1/orders/{id}/` shows it."""
    return {
        "id": order.pk,
        "symbol": symbol,
        "side": order.side,
        "type": order.type,
        "quantity": order.quantity,
        "price": _money(order.price),
        "time_in_force": order.time_in_force,
        "status": order.status,
        "filled_quantity": order.filled_quantity,
        "remaining_quantity": order.remaining_quantity,
        "average_fill_price": _money(order.average_fill_price),
        "client_order_id": order.client_order_id,
        "reserved_amount": _money(order.reserved_amount),
        "fees_paid": _money(order.fees_paid),
        "created_at": _time(order.created_at),
    }


def fill_data(trade: Trade, *, side: str, symbol: str) -> dict[str, Any]:
    is_buy = side == "buy"
    return {
        "trade_id": trade.pk,
        "order_id": trade.buy_order_id if is_buy else trade.sell_order_id,
        "symbol": symbol,
        "side": side,
        "price": str(trade.price),
        "quantity": trade.quantity,
        "fee": str(trade.buyer_fee_amount if is_buy else trade.seller_fee_amount),
        "kind": trade.kind,
        "executed_at": _time(trade.executed_at),
    }


def account_data(*, balance_amount: Decimal, reserved_amount: Decimal) -> dict[str, Any]:
    return {
        "cash_balance": str(balance_amount),
        "cash_reserved": str(reserved_amount),
        "cash_available": str(balance_amount - reserved_amount),
    }


def position_data(position: Position, symbol: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "quantity": position.quantity,
        "quantity_available": position.available_quantity,
        "average_cost": str(cents(position.average_cost)),
        "realized_pnl": str(position.realized_pnl_amount),
    }


def notification_data(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "text": notification.text,
        "data": notification.data,
        "created_at": _time(notification.created_at),
        "read_at": _time(notification.read_at),
    }


def phase_data(
    instrument: Instrument, *, cause: str, now: datetime | None = None
) -> dict[str, Any]:
    return {
        "symbol": instrument.symbol,
        "phase": instrument_phase(instrument, now=now).value,
        "status": instrument.status,
        "trading_date": trading_date_at(now).isoformat(),
        "cause": cause,
    }


# --- recording --------------------------------------------------------------------------------


class OutboxEvent(NamedTuple):
    """A `MarketEvent` row to insert: a tuple, not a model instance (an auction writes tens of
    thousands)."""

    stream: str
    type: str
    data: dict[str, Any]


def event(stream: str, type: str, data: dict[str, Any] | None = None) -> OutboxEvent:
    return OutboxEvent(stream, type, data or {})


def record(events: Sequence[OutboxEvent]) -> None:
    """Insert the events in the caller's transaction; relay their streams after commit."""
    if not events:
        return
    now = timezone.now()
    bulk_insert_rows(
        MarketEvent,
        ["stream", "type", "data", "created_at"],
        [(item.stream, item.type, _json(item.data), now) for item in events],
        json_text={"data"},
    )
    streams = tuple(dict.fromkeys(item.stream for item in events))
    transaction.on_commit(functools.partial(_relay_after_commit, streams))


def _relay_after_commit(streams: tuple[str, ...]) -> None:
    from market.relay import relay_after_commit

    relay_after_commit(streams)


def record_book_step(
    *,
    instruments: Mapping[int, Instrument],
    trades: Sequence[Trade],
    orders: Sequence[Order],
    accounts: Sequence[CashAccount],
    positions: Sequence[Position],
) -> None:
    """Everything one locked step of one or more books changed (BookSession.flush), by primary
    key of its instruments: the trades and the book of each, and each owner's orders (new or
    changed; one event each), fills, positions, cash and notifications."""
    orders = list({order.pk: order for order in orders}.values())
    traded_in: dict[int, list[Trade]] = {}
    for trade in trades:
        traded_in.setdefault(trade.instrument_id, []).append(trade)
    ordered_in = {order.instrument_id for order in orders}
    events: list[OutboxEvent] = []
    for pk, instrument in sorted(instruments.items()):
        symbol = instrument.symbol
        public = instrument_stream(symbol)
        traded_here = traded_in.get(pk, [])
        events += [event(public, "trade", trade_data(trade, symbol)) for trade in traded_here]
        if traded_here or pk in ordered_in:
            events.append(event(public, BOOK))
        if traded_here:
            events.append(event(public, TICKER))

    def symbol_of(row: Order | Trade | Position) -> str:
        return instruments[row.instrument_id].symbol

    for order in orders:
        data = order_data(order, symbol_of(order))
        events.append(event(user_stream(order.user_id), "order", data))
    for trade in trades:
        symbol = symbol_of(trade)
        events.append(
            event(user_stream(trade.buyer_id), "fill", fill_data(trade, side="buy", symbol=symbol))
        )
        events.append(
            event(
                user_stream(trade.seller_id), "fill", fill_data(trade, side="sell", symbol=symbol)
            )
        )
    for position in positions:
        events.append(
            event(
                user_stream(position.user_id),
                "position",
                position_data(position, symbol_of(position)),
            )
        )
    for account in accounts:
        if account.user_id is not None:
            events.append(
                event(
                    user_stream(account.user_id),
                    "account",
                    account_data(
                        balance_amount=account.balance_amount,
                        reserved_amount=account.reserved_amount,
                    ),
                )
            )
    traded = {trade.buy_order_id for trade in trades} | {trade.sell_order_id for trade in trades}
    found = (
        notifications.order_notification(order, symbol=symbol_of(order), traded=order.pk in traded)
        for order in orders
    )
    events += _notification_events(notifications.notifications_write([n for n in found if n]))
    record(events)


def record_auction(
    *,
    auction: AuctionRecord,
    instrument: Instrument,
    participant_ids: Iterable[int],
    now: datetime | None = None,
) -> None:
    """An auction ran (inside auction_run's transaction, after its flush): the phase it leads
    to, and its result for everyone who holds the instrument or had orders in it."""
    holders = Position.objects.filter(instrument=instrument, quantity__gt=0).values_list(
        "user_id", flat=True
    )
    written = notifications.notifications_write(
        notifications.auction_notifications(
            auction, symbol=instrument.symbol, user_ids={*holders, *participant_ids}
        )
    )
    record(
        [
            *_phase_events(instrument, cause=f"{auction.kind}_auction", now=now),
            *_notification_events(written),
        ]
    )


def record_phase(*, instrument: Instrument, cause: str, now: datetime | None = None) -> None:
    """The instrument's phase may have changed: halt, resume, delist, a forced open or close,
    the clock (see `phase_watch`)."""
    record(_phase_events(instrument, cause=cause, now=now))


def record_account(*, user_id: int, balance_amount: Decimal, reserved_amount: Decimal) -> None:
    """A user's cash moved outside a book step (deposit, withdrawal, adjustment)."""
    record(
        [
            event(
                user_stream(user_id),
                "account",
                account_data(balance_amount=balance_amount, reserved_amount=reserved_amount),
            )
        ]
    )


def record_listing(
    *, instrument: Instrument, position: Position, now: datetime | None = None
) -> None:
    """A vehicle was listed: the owner's new position and notification, the new stream's phase."""
    owner_stream = user_stream(position.user_id)
    [note] = notifications.notifications_write(
        [notifications.listing_notification(instrument, owner_id=position.user_id)]
    )
    record(
        [
            *_phase_events(instrument, cause="listing", now=now),
            event(owner_stream, "position", position_data(position, instrument.symbol)),
            *_notification_events([note]),
        ]
    )


def _phase_events(
    instrument: Instrument, *, cause: str, now: datetime | None = None
) -> list[OutboxEvent]:
    stream = instrument_stream(instrument.symbol)
    return [
        event(stream, PHASE, phase_data(instrument, cause=cause, now=now)),
        event(stream, TICKER),
        event(stream, INDICATIVE),
    ]


def _notification_events(written: Iterable[Notification]) -> list[OutboxEvent]:
    return [
        event(user_stream(note.user_id), "notification", notification_data(note))
        for note in written
    ]


# --- the clock's phase changes, and retention -------------------------------------------------

# Checked when the calendar's session phase changes, and at least this often.
PHASE_WATCH_SECONDS = 60.0
PURGE_EVERY_SECONDS = 600.0
PURGE_BATCH = 5000

_watch_lock = threading.Lock()
_watch_state: dict[str, Any] = {
    "session": None,
    "checked_at": float("-inf"),
    "purged_at": float("-inf"),
}


def phase_watch(*, force: bool = False) -> int:
    """Record a `phase` event for every instrument whose phase moved with the clock alone
    (continuous -> closing call at 15:55 has no write of its own). Returns how many.

    Cheap when nothing moved: the instruments are only looked at when the calendar's session
    changed since the last look in this process, or every PHASE_WATCH_SECONDS. The compare and
    the write happen under the instrument lock, so two sweepers record a change once."""
    now = clock.now()
    session = get_calendar().session_at(now)
    key = f"{session.trading_date}:{session.phase}"
    with _watch_lock:
        due = (
            force
            or key != _watch_state["session"]
            or time.monotonic() - _watch_state["checked_at"] >= PHASE_WATCH_SECONDS
        )
        if not due:
            return 0
        _watch_state["session"] = key
        _watch_state["checked_at"] = time.monotonic()
    changed = 0
    for instrument in Instrument.objects.exclude(status=InstrumentStatus.DELISTED).order_by("pk"):
        phase = instrument_phase(instrument, now=now).value
        if _last_phase(instrument) == phase:
            continue
        with transaction.atomic():
            locked = locks.instrument_for_update(pk=instrument.pk)
            if _last_phase(locked) != instrument_phase(locked, now=now).value:
                record_phase(instrument=locked, cause="schedule", now=now)
                changed += 1
    return changed


def _last_phase(instrument: Instrument) -> str | None:
    data = (
        MarketEvent.objects.filter(stream=instrument_stream(instrument.symbol), type=PHASE)
        .order_by("-id")
        .values_list("data", flat=True)
        .first()
    )
    return data.get("phase") if isinstance(data, dict) else None


def outbox_purge(*, force: bool = False) -> int:
    """Delete published events older than MARKET_OUTBOX_RETENTION_HOURS (they served their
    streams; consumers fill gaps only from recent ones). At most every PURGE_EVERY_SECONDS."""
    with _watch_lock:
        if not force and time.monotonic() - _watch_state["purged_at"] < PURGE_EVERY_SECONDS:
            return 0
        _watch_state["purged_at"] = time.monotonic()
    cutoff = timezone.now() - timedelta(hours=settings.MARKET_OUTBOX_RETENTION_HOURS)
    deleted = 0
    while True:
        ids = list(
            MarketEvent.objects.filter(published_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:PURGE_BATCH]
        )
        if not ids:
            return deleted
        deleted += MarketEvent.objects.filter(id__in=ids).delete()[0]
