"""WebSocket streams (MARKET_RULES 9, docs/realtime.md).

`/ws/instruments/<SYMBOL>/` (public) and `/ws/me/` (private: the session's user, or `?token=`).
On connect a consumer joins its stream's group FIRST, then sends `{"type": "snapshot", "seq": S,
"data": {...}}` with S the stream's last published sequence number (read before the state, so
the state is at least that new), then forwards the group's messages with seq > S, in order.
A client sends `{"type": "snapshot"}` for a fresh one.

A process joins each stream's group once, whatever the number of its clients: its `StreamHub`
(one per event loop and channel layer) is the group's only member here, receives each relay
batch once and puts it in the inbox of every consumer of that stream. With a thousand clients of
one instrument, a batch is taken from the layer, decoded and dispatched once, not a thousand
times; each consumer's own task then forwards it to its socket.

The consumer also keeps its stream whole where the channel layer does not: a message that skips
sequence numbers is preceded by the missing ones, read from the outbox (or, when they are no
longer kept, replaced by a fresh snapshot); when Redis goes away the hub waits for it, joins its
groups again and has every consumer catch up from the outbox; and every few seconds a consumer
compares its last number with the stream's cursor and forwards what the group did not bring.

Close codes: 4404 unknown symbol, 4401 not authenticated (or the session logged out).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth import user_logged_out
from django.contrib.auth.models import AnonymousUser
from django.dispatch import receiver

from market import broadcast, relay
from market.reuse import ReusedReads

logger = logging.getLogger(__name__)

CLOSE_UNKNOWN_SYMBOL = 4404
CLOSE_UNAUTHENTICATED = 4401
CLOSE_INTERNAL_ERROR = 1011
# After connecting, look once for a message that was sent while we were joining.
CATCH_UP_DELAY_SECONDS = 1.0
# Compare with the stream's cursor this often (a cached read: one query per stream and
# process at most every CURSOR_REUSE_SECONDS, whatever the number of clients).
CHECK_SECONDS = 3.0

CURSOR_REUSE_SECONDS = 0.5

# An instrument's snapshot, shared by its clients for a second at one sequence number.
_snapshots = ReusedReads(1.0)
_cursors = ReusedReads(CURSOR_REUSE_SECONDS)
# The cursor reads under way, on the server's event loop (_recent_last_seq).
_cursor_reads: dict[str, asyncio.Future[int]] = {}


# No channel of its own for each consumer (Channels gives none for an alias that names no
# layer): the process's market.broadcast.StreamHub receives for all of them.
NO_CONSUMER_CHANNEL = "market.consumers: the stream hub receives"


class StreamConsumer(AsyncJsonWebsocketConsumer):
    """One stream: a snapshot, then its messages in sequence order."""

    channel_layer_alias = NO_CONSUMER_CHANNEL
    stream = ""
    last_seq = 0
    shares_snapshots = False

    # --- subclass hooks ---------------------------------------------------------------------

    async def open_stream(self) -> tuple[str, int | None]:
        """(stream name, None) to go on, or ("", close code) to refuse."""
        raise NotImplementedError

    def snapshot_data(self) -> dict[str, Any] | None:
        """The whole state of the stream (runs in a thread: database access allowed)."""
        raise NotImplementedError

    # --- connection -------------------------------------------------------------------------

    async def connect(self) -> None:
        broadcast.bind_loop(asyncio.get_running_loop())
        self._in_order = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._joined = False
        stream, close_code = await self.open_stream()
        # Accept, then close: a refused handshake would hide the code from the client.
        await self.accept()
        if close_code is not None:
            await self.close(code=close_code)
            return
        self.stream = stream
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._hub = broadcast.stream_hub()
        await self._hub.subscribe(stream, self)
        self._joined = True
        if not await self._send_snapshot():
            return
        self._spawn(self._forward_inbox())
        self._spawn(self._stay_current())

    async def disconnect(self, code: int) -> None:
        for task in list(getattr(self, "_tasks", ())):
            task.cancel()
        if getattr(self, "_joined", False):
            self._joined = False
            await self._hub.unsubscribe(self.stream, self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            content = json.loads(text_data or "")
        except ValueError:
            content = None
        if isinstance(content, dict) and content.get("type") == "snapshot":
            async with self._in_order:
                # Never a number below one this client has: the relay sends before its commit
                # shows the new number, and the state read now has all it numbered already.
                await self._send_snapshot(at_least=self.last_seq)
            return
        await self.send_json(
            {"type": "error", "seq": None, "data": {"detail": 'Send {"type": "snapshot"}.'}}
        )

    # --- the group's messages ---------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """As Channels' dispatch, without its `aclose_old_connections()` before every handler:
        that is a hop to the one sync thread per message and client (the thread the sync views
        run on), which a thousand clients of a busy stream would saturate. The handlers here
        reach the database only through `database_sync_to_async`, which closes stale
        connections itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _forward_inbox(self) -> None:
        """The group's messages, from the hub, one at a time and in order."""
        while True:
            message = await self.inbox.get()
            try:
                await self.dispatch(message)
            except Exception as error:  # the socket went away, or a message no handler knows
                logger.info("%s: stopped forwarding (%r)", self.stream, error)
                with contextlib.suppress(Exception):
                    await self.close(code=CLOSE_INTERNAL_ERROR)
                return

    def layer_back(self) -> None:
        """The hub joined again after the channel layer came back: catch up now, and once more
        after a relay that was sending meanwhile has committed."""
        self._spawn(self._catch_up(delay=0))
        self._spawn(self._catch_up(delay=CATCH_UP_DELAY_SECONDS))

    async def stream_publish(self, event: dict[str, Any]) -> None:
        """A relay batch (market.broadcast.publish): sequence numbers and JSON texts."""
        async with self._in_order:
            for seq, text in zip(event["seqs"], event["texts"], strict=True):
                await self._forward(int(seq), text)

    async def _forward(self, seq: int, text: str) -> None:
        if seq <= self.last_seq:
            return  # already in the snapshot, or a duplicate
        if seq > self.last_seq + 1:
            missing = await database_sync_to_async(relay.stream_backlog)(
                self.stream, after_seq=self.last_seq, before_seq=seq
            )
            if [item["seq"] for item in missing] != list(range(self.last_seq + 1, seq)):
                await self._send_snapshot(at_least=seq)
                return
            for item in missing:
                await self.send_json(item)
        await self.send(text_data=text)
        self.last_seq = seq

    async def _send_snapshot(self, at_least: int = 0) -> bool:
        seq, data = await database_sync_to_async(self._read_snapshot)(at_least)
        if data is None:
            await self.close(code=CLOSE_UNKNOWN_SYMBOL)
            return False
        self.last_seq = max(seq, at_least)
        await self.send_json({"type": "snapshot", "seq": self.last_seq, "data": data})
        return True

    def _read_snapshot(self, at_least: int) -> tuple[int, dict[str, Any] | None]:
        # The sequence number first: the state read after it includes all it numbers.
        seq = relay.stream_last_seq(self.stream)
        if not self.shares_snapshots:
            return seq, self.snapshot_data()
        # Public state is the same for every client: a snapshot at the same sequence number
        # serves the next client too (a reconnect storm costs one read per instrument). Not
        # when a message newer than the cursor forces a fresh read.
        cached = _snapshots.get(self.stream, seq) if at_least <= seq else None
        if cached is not None:
            return seq, cached
        data = self.snapshot_data()
        if data is not None:
            _snapshots.put(self.stream, data, seq)
        return seq, data

    async def _catch_up(self, *, delay: float, upto: int | None = None) -> None:
        """Forward what the stream published (up to `upto`, else its latest) that the group did
        not bring us."""
        await asyncio.sleep(delay)
        async with self._in_order:
            latest = await _recent_last_seq(self.stream) if upto is None else upto
            if latest <= self.last_seq:
                return
            missing = await database_sync_to_async(relay.stream_backlog)(
                self.stream, after_seq=self.last_seq, before_seq=latest + 1
            )
            if [item["seq"] for item in missing] != list(range(self.last_seq + 1, latest + 1)):
                await self._send_snapshot(at_least=latest)
                return
            for item in missing:
                await self.send_json(item)
            self.last_seq = latest

    async def _stay_current(self) -> None:
        """Every CHECK_SECONDS (the first after CATCH_UP_DELAY_SECONDS), forward what the
        stream had published at the previous check and the group has still not brought: a
        relay that sent while this consumer joined, a message lost while Redis restarted (the
        pub/sub layer reconnects without a word to its consumers). Only what is that old: a
        busy consumer is behind the cursor all the time, with the messages on their way in its
        inbox, and reading them from the database for each of a thousand clients would slow
        every one of them further."""
        await asyncio.sleep(CATCH_UP_DELAY_SECONDS)
        due = 0  # the stream's number at the previous check
        while True:
            if due > self.last_seq:
                await self._catch_up(delay=0, upto=due)
            due = await _recent_last_seq(self.stream)
            await asyncio.sleep(CHECK_SECONDS)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class InstrumentConsumer(StreamConsumer):
    """`/ws/instruments/<SYMBOL>/`: ticker, book, trades, phase, indicative."""

    shares_snapshots = True

    async def open_stream(self) -> tuple[str, int | None]:
        symbol = str(self.scope["url_route"]["kwargs"]["symbol"]).upper()
        self.symbol = symbol
        if not await database_sync_to_async(_symbol_exists)(symbol):
            return "", CLOSE_UNKNOWN_SYMBOL
        return broadcast.instrument_stream(symbol), None

    def snapshot_data(self) -> dict[str, Any] | None:
        return relay.public_snapshot(self.symbol)


class MeConsumer(StreamConsumer):
    """`/ws/me/`: the user's orders, fills, cash, positions and notifications."""

    session_key: str | None = None

    async def open_stream(self) -> tuple[str, int | None]:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return "", CLOSE_UNAUTHENTICATED
        self.user_id = int(user.pk)
        if self.scope.get("auth") != "token":
            session = self.scope.get("session")
            self.session_key = getattr(session, "session_key", None)
        return broadcast.user_stream(self.user_id), None

    def snapshot_data(self) -> dict[str, Any] | None:
        return relay.private_snapshot(self.scope["user"])

    async def session_closed(self, event: dict[str, Any]) -> None:
        """The session this stream was opened with logged out (market.broadcast)."""
        if self.session_key is not None and event.get("session_key") == self.session_key:
            await self.close(code=CLOSE_UNAUTHENTICATED)


async def _recent_last_seq(stream: str) -> int:
    """The stream's last sequence number, read at most every CURSOR_REUSE_SECONDS in this
    process for the catch-up checks (not for snapshots, which need it fresh). One read at a
    time per stream: the consumers that ask while it runs share its answer, so a thousand
    clients checking at once cost one query, not a thousand."""
    cached: int | None = _cursors.get(stream)
    if cached is not None:
        return cached
    reading = _cursor_reads.get(stream)
    if reading is None:
        reading = asyncio.ensure_future(database_sync_to_async(relay.stream_last_seq)(stream))
        _cursor_reads[stream] = reading
        reading.add_done_callback(lambda _: _cursor_reads.pop(stream, None))
    seq = await asyncio.shield(reading)
    _cursors.put(stream, seq)
    return seq


def _symbol_exists(symbol: str) -> bool:
    from market.models import Instrument

    return Instrument.objects.filter(symbol=symbol).exists()


# --- authentication -----------------------------------------------------------------------------


class TokenAuthMiddleware:
    """`?token=<key>` (DRF authtoken) authenticates a WebSocket for programs. Inside
    AuthMiddlewareStack: a token, when given, decides; a wrong one means anonymous."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        keys = query.get("token")
        if keys:
            user = await database_sync_to_async(_token_user)(keys[-1])
            scope = {**scope, "user": user, "auth": "token"}
        return await self.app(scope, receive, send)


def _token_user(key: str) -> Any:
    from accounts.authentication import user_for_token

    user = user_for_token(key)
    if user is None or not user.is_active:
        return AnonymousUser()
    return user


@receiver(user_logged_out, dispatch_uid="market.consumers.close_private_streams")
def close_private_streams(
    sender: Any, request: Any = None, user: Any = None, **kwargs: Any
) -> None:
    """Log-out closes the private streams opened with that session (only that: a message to
    the user's group; token streams stay open). Connected where the WebSocket routes are
    loaded (config.asgi), which is every process that serves pages or streams."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        broadcast.session_closed(user_id=user.pk, session_key=session_key)
