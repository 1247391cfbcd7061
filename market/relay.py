"""Publishing the outbox: sequence numbers, coalescing, retries (MARKET_RULES 9, docs/realtime.md).

Events, for a set of streams, in one transaction: lock their `StreamCursor` rows in name order
(created first if missing), read their unpublished events in id order (a bounded batch), number
each stream's `last_seq + 1, ...`, send each stream's as one batch to its group
(market.broadcast), mark them published, move the cursors, commit. If a send raises (Redis
down), the transaction rolls back: nothing is marked, and the same events go out, in order, on
the next try. Two relays of one stream queue on its cursor lock, held only that long.

State: the markers `book`, `ticker`, `indicative` of an instrument become at most ONE message of
each kind, computed when published, by one relay at a time per instrument, for all the
instruments of a relay pass in one transaction: it holds the instruments' state locks (the
`StreamCursor` rows `state:<stream>`, taken with SKIP LOCKED, so nobody waits for them) while it
takes their markers and computes, then takes the cursor locks briefly to number and send, and
after its commit looks again for markers that came meanwhile. A relay that finds the state
lock taken leaves its markers to the holder's second look. State goes out at most once per
instrument every MARKET_STREAM_STATE_INTERVAL_MS in a process; markers that come sooner wait
for a trailing relay (a timer), so a stream always ends with the latest state. Trades, orders,
fills and the rest are never coalesced.

When: right after the commit that wrote the events, for the streams it touched
(`relay_after_commit`, which never raises into the request), and by a periodic sweep of every
stream with unpublished events (`relay_sweep`: the embedded clock's thread, or Celery beat).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from celery import shared_task
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from market import broadcast, outbox, selectors
from market.models import (
    Instrument,
    MarketEvent,
    Notification,
    StreamCursor,
)
from market.phases import CALL_PHASES
from market.services.bulk import bulk_update_rows, bulk_update_values, sql_in

logger = logging.getLogger(__name__)

# Events per relay transaction: an auction writes tens of thousands at once, and each batch
# costs a channel-layer send per stream and an UPDATE (make bench, relaying 27,000: 1,000 a
# transaction took 8.1 s, 5,000 took 4.6 s, all in one 2.5 s).
BATCH_SIZE = 50_000
# Messages a consumer reads from the outbox at once to fill a gap.
BACKLOG_SIZE = 1000
SWEEP_SECONDS = 2.0
# After a failed send, relays after commit leave the work to the sweep for this long, so that
# requests do not each pay for a dead channel layer.
BACKOFF_SECONDS = 2.0
BOOK_DEPTH = 10
RECENT_TRADES = 50
RECENT_NOTIFICATIONS = 20
STATE_LOCK_PREFIX = "state:"
STATE_ROUNDS = 3

_lock = threading.Lock()
_state_sent_at: dict[str, float] = {}
# Streams with a trailing relay pending: its timer (None until the loop has set it).
_trailing: dict[str, asyncio.TimerHandle | None] = {}
_tasks: set[asyncio.Future[None]] = set()
_layer_down_until = 0.0
# Streams committed in this process and not relayed yet; whether a background relay is due.
_dirty: set[str] = set()
_background_scheduled = False
# Cursor rows this process has seen: no insert is tried for them.
_known_cursors: set[str] = set()


# --- entry points -----------------------------------------------------------------------------


def relay_after_commit(streams: Iterable[str]) -> None:
    """The on-commit hook (market.outbox.record): publish what the transaction wrote. Never
    raises; whatever fails is left for the sweep.

    In an ASGI server (market.broadcast.bound_loop) the relay leaves the request: the streams
    join this process's dirty set and one background relay (`_off_the_loop`) publishes every
    dirty stream at once, so the streams of many transactions share its transactions.
    Elsewhere (a Celery worker, a command, a sync test) it runs here."""
    global _background_scheduled
    if time.monotonic() < _layer_down_until:
        return
    loop = broadcast.bound_loop()
    if loop is None:
        _relay_now(streams)
        return
    with _lock:
        _dirty.update(streams)
        if _background_scheduled:
            return
        _background_scheduled = True
    loop.call_soon_threadsafe(_start_background_relay, context=contextvars.Context())


def _relay_now(streams: Iterable[str]) -> None:
    global _layer_down_until
    try:
        relay_streams(streams)
    except Exception:  # the transaction has committed: nothing may fail now
        with _lock:
            _layer_down_until = time.monotonic() + BACKOFF_SECONDS
        logger.warning("relay after commit failed; the sweep will publish", exc_info=True)


def _start_background_relay() -> None:
    _off_the_loop(_background_relay)


_relay_thread: ThreadPoolExecutor | None = None


def _off_the_loop(work: Callable[..., None], *args: Any) -> None:
    """On the loop: run `work` in a thread. On PostgreSQL, the relay's own thread: on the
    thread-sensitive one it would wait behind every sync view of the process (order requests),
    and a trade's messages would wait with it. On SQLite (embedded mode, one process), that
    thread-sensitive one, so the relay never races the views for SQLite's one writer."""
    global _relay_thread
    if connections["default"].vendor == "postgresql":
        if _relay_thread is None:
            _relay_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay")
        task = asyncio.get_running_loop().run_in_executor(
            _relay_thread, _with_fresh_connection, work, *args
        )
    else:
        task = asyncio.ensure_future(database_sync_to_async(work)(*args))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _with_fresh_connection(work: Callable[..., None], *args: Any) -> None:
    # As database_sync_to_async does: no connection past its age or broken.
    close_old_connections()
    try:
        work(*args)
    finally:
        close_old_connections()


def close_relay_connections() -> None:
    """Close the relay thread's database connection (tests: before the database is dropped)."""
    if _relay_thread is not None:
        _relay_thread.submit(connections.close_all).result()


def _background_relay() -> None:
    """Relay the dirty streams until none are left."""
    global _background_scheduled
    while True:
        with _lock:
            streams = sorted(_dirty)
            _dirty.clear()
            if not streams or time.monotonic() < _layer_down_until:
                _background_scheduled = False
                return
        _relay_now(streams)


def relay_streams(streams: Iterable[str]) -> int:
    """Publish everything the streams have waiting: their events, batch after batch, then the
    instruments' state. Returns the messages sent. Raises when the channel layer is down
    (after rolling back what it could not send)."""
    wanted = sorted(set(streams))
    sent = 0
    more = bool(wanted)
    while more:
        count, more = _relay_events(wanted)
        sent += count
    sent += _relay_states([stream for stream in wanted if stream.startswith("instrument.")])
    return sent


def relay_stream(stream: str) -> int:
    return relay_streams([stream])


def relay_sweep() -> int:
    """Publish every stream with unpublished events; record the clock's phase changes; drop
    old published events. For the embedded clock and Celery beat, every SWEEP_SECONDS."""
    global _layer_down_until
    try:
        outbox.phase_watch()
    except Exception:  # the relay below must still run
        logger.exception("relay sweep: the phase watch failed")
    streams = list(
        MarketEvent.objects.filter(published_at__isnull=True)
        .order_by()
        .values_list("stream", flat=True)
        .distinct()
    )
    sent = 0
    for stream in sorted(streams):
        try:
            sent += relay_stream(stream)
        except Exception:  # one stream's failure must not stop the others
            logger.warning("relay sweep: %s failed", stream, exc_info=True)
        else:
            with _lock:
                _layer_down_until = 0.0
    try:
        outbox.outbox_purge()
    except Exception:  # retention can wait for the next sweep
        logger.exception("relay sweep: the outbox purge failed")
    return sent


@shared_task(name="market.relay_sweep", ignore_result=True)
def relay_sweep_task() -> int:
    """Celery beat: `relay_sweep` every SWEEP_SECONDS in production."""
    return relay_sweep()


def register_with_clockwork() -> bool:
    """In embedded mode, run `relay_sweep` on the embedded clock's thread (market.clockwork),
    when that module is there. Returns whether it registered."""
    try:
        from market import clockwork
    except ImportError:
        return False
    clockwork.register_periodic(relay_sweep, every_seconds=SWEEP_SECONDS)
    return True


def cancel_trailing() -> None:
    """Forget the pending trailing and background relays and the throttle's clock (tests,
    shutdown)."""
    global _background_scheduled
    with _lock:
        _dirty.clear()
        _background_scheduled = False
        timers = list(_trailing.values())
        _trailing.clear()
        _state_sent_at.clear()
    for timer in timers:
        if timer is not None:
            timer.cancel()


# --- events -----------------------------------------------------------------------------------


def _relay_events(streams: list[str]) -> tuple[int, bool]:
    """Publish one batch of the streams' events (sorted names) in one transaction: (messages
    sent, whether more wait)."""
    sent = 0
    _ensure_cursors(streams)
    with transaction.atomic():
        _commit_asynchronously()
        cursors = _lock_cursors(streams)
        # The data as the database's JSON text: it goes out as it is, not decoded and encoded.
        events = list(
            MarketEvent.objects.filter(stream__in=streams, published_at__isnull=True)
            .exclude(type__in=outbox.MARKERS)
            .annotate(text=Cast("data", TextField()))
            .order_by("id")
            .values_list("id", "stream", "type", "text")[:BATCH_SIZE]
        )
        if not events:
            return 0, False
        by_stream: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for id_, stream, type_, text in events:
            by_stream[stream].append((id_, type_, text))
        now = timezone.now()
        batches = []
        numbered: list[tuple[int, int, datetime]] = []
        for stream, items in sorted(by_stream.items()):
            cursor = cursors[stream]
            messages = []
            for id_, type_, text in items:
                cursor.last_seq += 1
                numbered.append((id_, cursor.last_seq, now))
                messages.append((cursor.last_seq, _message_text(type_, cursor.last_seq, text)))
            batches.append((stream, messages))
            sent += len(messages)
            cursor.updated_at = now
        broadcast.publish_texts(batches)
        bulk_update_values(MarketEvent, ["seq", "published_at"], numbered)
        bulk_update_rows(
            [cursors[stream] for stream in sorted(by_stream)], ["last_seq", "updated_at"]
        )
    return sent, len(events) == BATCH_SIZE


def _message_text(type_: str, seq: int, data_text: str) -> str:
    """`{"type", "seq", "data"}` as JSON, around data already in JSON."""
    return f'{{"type":{json.dumps(type_)},"seq":{seq},"data":{data_text}}}'


def _commit_asynchronously() -> None:
    """PostgreSQL: this transaction's commit need not wait for the disk. The relay sends
    before it commits, so a commit lost in a crash only repeats numbers that clients drop."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _ensure_cursors(streams: list[str]) -> None:
    """Create the cursors this process has not seen, before the relay's transaction (an
    insert inside it would hold its new rows out of name order)."""
    with _lock:
        unknown = [stream for stream in streams if stream not in _known_cursors]
    if unknown:
        _create_cursors(unknown)


def _lock_cursors(streams: list[str], *, skip_locked: bool = False) -> dict[str, StreamCursor]:
    """Lock the streams' cursors in name order, so relays of overlapping streams cannot
    deadlock. With `skip_locked`, those another transaction holds are left out."""
    cursors = _locked(streams, skip_locked=skip_locked)
    missing = [stream for stream in streams if stream not in cursors]
    if missing and not skip_locked:  # deleted meanwhile (a flushed test database)
        _create_cursors(missing)
        cursors.update(_locked(missing))
    return cursors


def _create_cursors(streams: list[str]) -> None:
    StreamCursor.objects.bulk_create(
        [StreamCursor(stream=stream) for stream in streams], ignore_conflicts=True
    )
    with _lock:
        _known_cursors.update(streams)


def _locked(streams: list[str], *, skip_locked: bool = False) -> dict[str, StreamCursor]:
    rows = (
        StreamCursor.objects.select_for_update(skip_locked=skip_locked)
        .filter(stream__in=streams)
        .order_by("stream")
    )
    return {cursor.stream: cursor for cursor in rows}


# --- state ------------------------------------------------------------------------------------


def _relay_states(streams: list[str]) -> int:
    """Publish the state of the instrument streams (sorted names) whose markers wait, all
    streams at once, round after round while markers come meanwhile. A stream drops out when
    another relay holds its state lock (that one looks again after its commit) or the throttle
    says later (a trailing relay is scheduled). At most STATE_ROUNDS rounds: under a stream of
    orders from other processes a relay must not go on forever (the next relay, or the sweep,
    takes over)."""
    sent = 0
    for _ in range(STATE_ROUNDS):
        streams = _with_markers(streams)
        if not streams:
            break
        published, streams = _publish_states(streams)
        sent += published
    return sent


def _with_markers(streams: list[str]) -> list[str]:
    """Those of the streams with unpublished markers: 1 query."""
    if not streams:
        return []
    return sorted(
        MarketEvent.objects.filter(
            stream__in=streams, published_at__isnull=True, type__in=outbox.MARKERS
        )
        .order_by()
        .values_list("stream", flat=True)
        .distinct()
    )


def _publish_states(streams: list[str]) -> tuple[int, list[str]]:
    """One state publication for the streams, in one transaction: (messages sent, the streams
    published, which are to be looked at again)."""
    state_locks = {STATE_LOCK_PREFIX + stream: stream for stream in streams}
    _ensure_cursors([*state_locks, *streams])
    with transaction.atomic():
        _commit_asynchronously()
        held = _lock_cursors(sorted(state_locks), skip_locked=True)
        due = [state_locks[lock] for lock in sorted(held) if _state_due(state_locks[lock])]
        if not due:
            return 0, []
        now = timezone.now()
        # Claimed before the state is read: every transaction whose markers this takes has
        # committed, so the state read next shows it. A marker committed later stays for the
        # next look.
        claimed = _claim_markers(due, now)
        found = states_messages(claimed)
        cursors = _lock_cursors(sorted(found))
        rows = []
        batches = []
        for stream, messages in sorted(found.items()):
            cursor = cursors[stream]
            texts = []
            for type_, data in messages:
                cursor.last_seq += 1
                rows.append(
                    MarketEvent(
                        stream=stream, type=type_, data=data, seq=cursor.last_seq, published_at=now
                    )
                )
                text = json.dumps(data, separators=(",", ":"))
                texts.append((cursor.last_seq, _message_text(type_, cursor.last_seq, text)))
            batches.append((stream, texts))
            cursor.updated_at = now
        broadcast.publish_texts(batches)
        MarketEvent.objects.bulk_create(rows)
        bulk_update_rows([cursors[stream] for stream in sorted(found)], ["last_seq", "updated_at"])
    sent_at = time.monotonic()
    with _lock:
        _state_sent_at.update(dict.fromkeys(found, sent_at))
    return len(rows), due


def _claim_markers(streams: list[str], now: datetime) -> dict[str, set[str]]:
    """Mark the streams' unpublished markers published: 1 statement. Returns the kinds claimed,
    by stream."""
    quote = connection.ops.quote_name
    table, published_at, type_, stream = (
        quote(name) for name in (MarketEvent._meta.db_table, "published_at", "type", "stream")
    )
    in_kinds, kind_params = sql_in(connection, sorted(outbox.MARKERS))
    in_streams, stream_params = sql_in(connection, streams)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {published_at} = %s "  # noqa: S608 (names and placeholders only)
            f"WHERE {published_at} IS NULL AND {type_} {in_kinds} "
            f"AND {stream} {in_streams} RETURNING {stream}, {type_}",
            [connection.ops.adapt_datetimefield_value(now), *kind_params, *stream_params],
        )
        claimed: dict[str, set[str]] = defaultdict(set)
        for name, kind in cursor.fetchall():
            claimed[name].add(kind)
    return claimed


def _state_due(stream: str) -> bool:
    """Whether state may go out now; if not, a trailing relay is scheduled for when it may.

    The trailing relay is a timer on the ASGI server's event loop (market.broadcast.bound_loop),
    run in a thread (`_off_the_loop`), and it sends on the loop the in-memory layer serves. A process without a
    loop (a Celery worker, a command, a sync test) starts no thread for it: markers that come
    too soon there wait for the next relay or the sweep (at most SWEEP_SECONDS)."""
    interval = settings.MARKET_STREAM_STATE_INTERVAL_MS / 1000
    if interval <= 0:
        return True
    loop = broadcast.bound_loop()
    with _lock:
        wait = _state_sent_at.get(stream, float("-inf")) + interval - time.monotonic()
        if wait <= 0:
            return True
        if loop is None or stream in _trailing:
            return False
        _trailing[stream] = None
    # A fresh context: the caller's (a sync_to_async thread) must not leak into the loop's.
    loop.call_soon_threadsafe(_schedule_trailing, loop, stream, wait, context=contextvars.Context())
    return False


def _schedule_trailing(loop: asyncio.AbstractEventLoop, stream: str, wait: float) -> None:
    """On the loop: start the trailing relay `wait` seconds from now."""
    with _lock:
        if stream not in _trailing:
            return  # cancelled meanwhile
        _trailing[stream] = loop.call_later(
            wait, _start_trailing, stream, context=contextvars.Context()
        )


def _start_trailing(stream: str) -> None:
    _off_the_loop(_trailing_relay, stream)


def _trailing_relay(stream: str) -> None:
    with _lock:
        _trailing.pop(stream, None)
    try:
        relay_stream(stream)
    except Exception:  # nobody to tell: the sweep retries
        logger.warning("trailing relay of %s failed", stream, exc_info=True)


# --- stream state (reads) ---------------------------------------------------------------------
# The state messages and the snapshots come from market.selectors, so that a stream shows what
# the REST API shows; `jsonable` turns their Decimals and dates into strings.


def states_messages(
    markers: Mapping[str, set[str]],
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The coalesced state messages for the markers of instrument streams (by stream), computed
    now: 2 queries, 3 when an instrument is in a call phase, whatever the number of streams.
    A stream of no instrument, or whose markers ask for nothing now, is left out."""
    symbols = {stream: stream.partition(".")[2] for stream in markers}
    tickers = selectors.tickers_by_symbol(symbols.values())
    wants_book = [
        tickers[symbol]["id"]
        for stream, symbol in symbols.items()
        if symbol in tickers and outbox.BOOK in markers[stream]
    ]
    books = selectors.book_depths(wants_book, BOOK_DEPTH)
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for stream, kinds in markers.items():
        row = tickers.get(symbols[stream])
        if row is None:
            continue
        ticker = jsonable({field: row[field] for field in selectors.TICKER_FIELDS})
        messages: list[tuple[str, dict[str, Any]]] = []
        if outbox.BOOK in kinds:
            messages.append((outbox.BOOK, _book_message(row["symbol"], books[row["id"]])))
        if kinds & {outbox.BOOK, outbox.TICKER}:
            messages.append((outbox.TICKER, ticker))
        if kinds & {outbox.BOOK, outbox.INDICATIVE} and ticker["phase"] in CALL_PHASES:
            messages.append((outbox.INDICATIVE, _indicative(ticker)))
        if messages:
            found[stream] = messages
    return found


def public_snapshot(symbol: str) -> dict[str, Any] | None:
    """The whole public state of an instrument, or None when there is no such symbol."""
    instrument = Instrument.objects.filter(symbol=symbol.upper()).first()
    if instrument is None:
        return None
    ticker = _ticker(instrument)
    return {
        "symbol": instrument.symbol,
        "phase": ticker["phase"],
        "ticker": ticker,
        "book": _book(instrument),
        "trades": [
            {**row, "symbol": instrument.symbol}
            for row in jsonable(selectors.trades_recent(instrument, limit=RECENT_TRADES))
        ],
        "indicative": _indicative(ticker) if ticker["phase"] in CALL_PHASES else None,
    }


def private_snapshot(user: Any) -> dict[str, Any]:
    """The whole private state of a user: open orders, cash, positions, recent notifications."""
    orders = selectors.orders_for(user, status="open")[: settings.MARKET_MAX_OPEN_ORDERS_PER_USER]
    notes = Notification.objects.filter(user_id=user.pk).order_by("-id")
    return {
        "user_id": user.pk,
        "account": jsonable(selectors.account_summary(user)),
        "orders": [outbox.order_data(order, order.instrument.symbol) for order in orders],
        "positions": jsonable(selectors.portfolio_get(user)["positions"]),
        "notifications": [outbox.notification_data(note) for note in notes[:RECENT_NOTIFICATIONS]],
        "unread_notifications": notes.filter(read_at__isnull=True).count(),
    }


def _ticker(instrument: Instrument) -> dict[str, Any]:
    ticker: dict[str, Any] = jsonable(selectors.ticker_get(instrument))
    return ticker


def _book(instrument: Instrument) -> dict[str, Any]:
    return _book_message(instrument.symbol, selectors.book_depth(instrument, BOOK_DEPTH))


def _book_message(symbol: str, book: dict[str, Any]) -> dict[str, Any]:
    return {"symbol": symbol, **jsonable(book)}


def _indicative(ticker: dict[str, Any]) -> dict[str, Any]:
    return {
        "symbol": ticker["symbol"],
        "phase": ticker["phase"],
        "indicative_price": ticker["indicative_price"],
        "indicative_volume": ticker["indicative_volume"],
    }


def jsonable(value: Any) -> Any:
    """Decimals as strings (never floats), dates and times in ISO 8601 with their offset."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return value


def stream_backlog(
    stream: str, *, after_seq: int, before_seq: int | None = None
) -> list[dict[str, Any]]:
    """The messages a stream sent after `after_seq` (and before `before_seq`), from the outbox:
    a consumer fills a gap with them. Empty when they are no longer kept."""
    rows = MarketEvent.objects.filter(stream=stream, seq__gt=after_seq)
    if before_seq is not None:
        rows = rows.filter(seq__lt=before_seq)
    return [
        {"type": type_, "seq": seq, "data": data}
        for type_, seq, data in rows.order_by("seq").values_list("type", "seq", "data")[
            :BACKLOG_SIZE
        ]
    ]


def stream_last_seq(stream: str) -> int:
    return (
        StreamCursor.objects.filter(stream=stream).values_list("last_seq", flat=True).first() or 0
    )
