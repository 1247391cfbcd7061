"""The only module that talks to the channel layer (STYLE.md).

Stream names are group names: `instrument.<SYMBOL>` (public) and `user.<id>` (private). A relay
batch goes out as ONE group message, `{"type": "stream.publish", "stream": ..., "seqs": [...],
"texts": [...]}` (each message's sequence number and JSON text), handled by the consumers'
`stream_publish`: one Redis round trip per batch instead of one per message, and the batch
arrives whole and in order. Every group message names its stream: a process's one member of
all its groups (market.consumers.StreamHub) hands it to that stream's consumers.

Sends are synchronous (the relay runs in ordinary threads) and raise when the layer is down, so
that the relay's transaction rolls back and the outbox keeps the events. The in-memory layer of
the embedded mode works only on the loop its consumers wait on, so its sends run on the loop a
consumer told us (`bind_loop`). A Redis layer's sends run on the process's own sending loop, a
thread of its own: a relay never waits for a server loop busy with its fan-out, and a process
without a server (a Celery worker) keeps one connection instead of opening one per send.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# A send that takes longer has failed: the relay rolls back and the sweep retries.
SEND_TIMEOUT_SECONDS = 10.0
PUBLISH = "stream.publish"
SESSION_CLOSED = "session.closed"
# Waiting for a channel layer that went away: first and longest pause between tries.
RETRY_FIRST_SECONDS = 0.1
RETRY_MAX_SECONDS = 2.0
LAYER_ERRORS = (OSError, RedisError, TimeoutError)
# Join the groups again this often: Redis forgets a membership after a day (channels_redis
# group_expiry).
REJOIN_SECONDS = 600.0

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
# The sending loop of a Redis layer, and the process that started its thread (a forked child,
# such as a Celery worker, has not got the thread and starts its own).
_sender: tuple[int, asyncio.AbstractEventLoop] | None = None


def instrument_stream(symbol: str) -> str:
    return f"instrument.{symbol.upper()}"


def user_stream(user_id: int) -> str:
    return f"user.{user_id}"


def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the event loop this process's ASGI server (and its consumers) runs on."""
    global _loop
    with _loop_lock:
        _loop = loop


def bound_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's event loop, while it runs; None in a process without one."""
    loop = _loop
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


class BindEventLoop:
    """ASGI middleware (config.asgi): the first connection tells `bind_loop` the server's
    loop, for the sends of sync code and the relay's trailing timers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if _loop is None or _loop.is_closed():
            bind_loop(asyncio.get_running_loop())
        return await self.app(scope, receive, send)


def publish(stream: str, messages: list[dict[str, Any]]) -> None:
    """Send a relay batch (`{"type", "seq", "data"}` each, in order) to the stream's group.
    Raises when the channel layer cannot take it."""
    encoded = [(message["seq"], json.dumps(message, separators=(",", ":"))) for message in messages]
    publish_texts([(stream, encoded)])


def publish_texts(batches: Sequence[tuple[str, list[tuple[int, str]]]]) -> None:
    """Send each stream its batch of messages, (seq, JSON text) each, in order, all in one run
    on the event loop (one hop for a relay transaction over many streams, not one per stream).
    Raises when the channel layer cannot take one of them; the others may have gone out (their
    numbers repeat on the next try, and clients drop them).

    Each message travels as its JSON text, encoded once, with its sequence number beside it: a
    consumer forwards the text as it is, instead of every consumer of the group decoding and
    encoding the same message again."""
    payloads = [
        (
            stream,
            {
                "type": PUBLISH,
                "stream": stream,
                "seqs": [seq for seq, _ in messages],
                "texts": [text for _, text in messages],
            },
        )
        for stream, messages in batches
        if messages
    ]
    if not payloads:
        return
    layer = channel_layer()

    async def send_all() -> None:
        await asyncio.gather(
            *(_send_once_more(layer, group, message) for group, message in payloads)
        )

    _run(send_all)


def session_closed(*, user_id: int, session_key: str) -> None:
    """Tell the user's private streams that a session ended (log-out): the consumers
    authenticated by that session close. Never raises: a log-out must not fail on it."""
    try:
        stream = user_stream(user_id)
        _group_send(stream, {"type": SESSION_CLOSED, "stream": stream, "session_key": session_key})
    except Exception:  # the layer is down: the session is gone anyway
        logger.warning("could not tell user %s's streams about a log-out", user_id, exc_info=True)


def channel_layer() -> Any:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS has no default layer")
    return layer


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = channel_layer()
    _run(lambda: _send_once_more(layer, group, message))


async def _send_once_more(layer: Any, group: str, message: dict[str, Any]) -> None:
    try:
        await layer.group_send(group, message)
    except (OSError, RedisError):
        # Once more: after a Redis restart the pool's first connection is a dead one. A send
        # that had half happened repeats its sequence numbers, which clients drop.
        await layer.group_send(group, message)


def _run(make: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(make(), SEND_TIMEOUT_SECONDS)

    loop = bound_loop() if isinstance(channel_layer(), InMemoryChannelLayer) else _sending_loop()
    if loop is not None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            future = asyncio.run_coroutine_threadsafe(bounded(), loop)
            try:
                return future.result(timeout=SEND_TIMEOUT_SECONDS + 1)
            except TimeoutError:
                future.cancel()
                raise
    return async_to_sync(bounded)()


def _sending_loop() -> asyncio.AbstractEventLoop:
    global _sender
    with _loop_lock:
        if _sender is None or _sender[0] != os.getpid() or _sender[1].is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="broadcast", daemon=True).start()
            _sender = (os.getpid(), loop)
        return _sender[1]


# --- one member of each group per process ------------------------------------------------------


class Subscriber(Protocol):
    """What the hub needs of a consumer (market.consumers.StreamConsumer)."""

    inbox: asyncio.Queue[dict[str, Any]]

    def layer_back(self) -> None: ...


class StreamHub:
    """This process's one member of each stream's group, for one event loop and channel layer.

    A group message (market.broadcast, which names its stream in it) arrives once and goes to
    the inbox of each consumer of its stream here. Joins and leaves run one at a time, so that
    a stream's last consumer leaving cannot undo the join of a consumer that is arriving. When
    its last consumer leaves, the hub stops and forgets its channel."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel = ""
        self.consumers: dict[str, set[Subscriber]] = {}
        self._joined: set[str] = set()
        self._membership = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    async def subscribe(self, stream: str, consumer: Subscriber) -> None:
        """Add the consumer; on return the process is in the stream's group, so that a snapshot
        read now misses nothing the group will not bring. Raises when the layer is down."""
        async with self._membership:
            if not self.channel:
                _hubs.setdefault(_hub_key(self.layer), self)  # stopped while we waited
                self.channel = await self.layer.new_channel()
                self._tasks = [
                    asyncio.ensure_future(self._receive()),
                    asyncio.ensure_future(self._keep_joined()),
                ]
            self.consumers.setdefault(stream, set()).add(consumer)
            if stream not in self._joined:
                try:
                    await self.layer.group_add(stream, self.channel)
                except BaseException:
                    self._forget(stream, consumer)
                    raise
                self._joined.add(stream)

    async def unsubscribe(self, stream: str, consumer: Subscriber) -> None:
        async with self._membership:
            self._forget(stream, consumer)
            if stream in self._joined and stream not in self.consumers:
                self._joined.discard(stream)
                try:
                    await self.layer.group_discard(stream, self.channel)
                except LAYER_ERRORS:
                    logger.info("could not leave %s: the channel layer is down", stream)
            if not self.consumers:
                await self._stop()

    def _forget(self, stream: str, consumer: Subscriber) -> None:
        members = self.consumers.get(stream)
        if members is not None:
            members.discard(consumer)
            if not members:
                del self.consumers[stream]

    async def _stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.channel = ""
        self._joined.clear()
        _hubs.pop(_hub_key(self.layer), None)

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except LAYER_ERRORS:
                logger.warning("the channel layer went away; waiting for it")
                await self._rejoin()
                continue
            for consumer in tuple(self.consumers.get(message.get("stream", ""), ())):
                consumer.inbox.put_nowait(message)

    async def _rejoin(self) -> None:
        """Wait for the layer, join every group again, and have every consumer catch up with
        what went out meanwhile."""
        pause = RETRY_FIRST_SECONDS
        while True:
            await asyncio.sleep(pause)
            try:
                async with self._membership:
                    for stream in sorted(self._joined):
                        await self.layer.group_add(stream, self.channel)
            except LAYER_ERRORS:
                pause = min(pause * 2, RETRY_MAX_SECONDS)
                continue
            logger.info("the channel layer is back")
            for members in tuple(self.consumers.values()):
                for consumer in tuple(members):
                    consumer.layer_back()
            return

    async def _keep_joined(self) -> None:
        """Redis forgets a group membership after a day (channels_redis group_expiry)."""
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            try:
                async with self._membership:
                    for stream in sorted(self._joined):
                        await self.layer.group_add(stream, self.channel)
            except LAYER_ERRORS:
                pass  # the receive loop waits for the layer and joins again


_hubs: dict[tuple[int, int], StreamHub] = {}


def _hub_key(layer: Any) -> tuple[int, int]:
    return id(asyncio.get_running_loop()), id(layer)


def stream_hub() -> StreamHub:
    """The running loop's hub for the default channel layer (tests change the layer and run
    each on its own loop)."""
    layer = channel_layer()
    key = _hub_key(layer)
    hub = _hubs.get(key)
    if hub is None:
        hub = _hubs[key] = StreamHub(layer)
    return hub
