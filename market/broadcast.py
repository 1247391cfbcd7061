"""The only module that talks to the channel layer (STYLE.md).

Stream names are group names: `instrument.<SYMBOL>` (public) and `user.<id>` (private). A relay
batch goes out as ONE group message, `{"type": "stream.publish", "seqs": [...], "texts": [...]}`
(each message's sequence number and JSON text), handled by the consumers' `stream_publish`: one
Redis round trip per batch instead of one per message, and the batch arrives whole and in order.

Sends are synchronous (the relay runs in ordinary threads) and raise when the layer is down, so
that the relay's transaction rolls back and the outbox keeps the events. When a consumer has
told us this process's event loop (`bind_loop`), sends run on it: the in-memory layer of the
embedded mode works only on the loop its consumers wait on, and a Redis layer keeps its
connection pool there instead of opening one per call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# A send that takes longer has failed: the relay rolls back and the sweep retries.
SEND_TIMEOUT_SECONDS = 10.0
PUBLISH = "stream.publish"
SESSION_CLOSED = "session.closed"

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


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
    publish_many([(stream, messages)])


def publish_many(batches: Sequence[tuple[str, list[dict[str, Any]]]]) -> None:
    """Send each stream its batch, all in one run on the event loop (one hop for a relay
    transaction over many streams, not one per stream). Raises when the channel layer cannot
    take one of them; the others may have gone out (their numbers repeat on the next try, and
    clients drop them).

    Each message travels as its JSON text, encoded once here, with its sequence number beside
    it: a consumer forwards the text as it is, instead of every consumer of the group decoding
    and encoding the same message again."""
    payloads = [
        (
            stream,
            {
                "type": PUBLISH,
                "seqs": [message["seq"] for message in messages],
                "texts": [json.dumps(message, separators=(",", ":")) for message in messages],
            },
        )
        for stream, messages in batches
        if messages
    ]
    if not payloads:
        return
    layer = _layer()

    async def send_all() -> None:
        await asyncio.gather(
            *(_send_once_more(layer, group, message) for group, message in payloads)
        )

    _run(send_all)


def session_closed(*, user_id: int, session_key: str) -> None:
    """Tell the user's private streams that a session ended (log-out): the consumers
    authenticated by that session close. Never raises: a log-out must not fail on it."""
    try:
        _group_send(user_stream(user_id), {"type": SESSION_CLOSED, "session_key": session_key})
    except Exception:  # the layer is down: the session is gone anyway
        logger.warning("could not tell user %s's streams about a log-out", user_id, exc_info=True)


async def join(stream: str, channel_name: str) -> None:
    await _layer().group_add(stream, channel_name)


async def leave(stream: str, channel_name: str) -> None:
    await _layer().group_discard(stream, channel_name)


def _layer() -> Any:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS has no default layer")
    return layer


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = _layer()
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

    loop = bound_loop()
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
