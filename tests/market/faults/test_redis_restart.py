"""Redis stops and comes back during trading (issue #11, fault c).

Two uvicorn servers on a PostgreSQL cluster and a redis-server of the test's own (the channel
layer: live pushes), HTTP traders sending orders and cancels throughout. While Redis is down
the API still answers and stores every order; the events it could not push wait in the outbox.
Once Redis is back, the relay sweep (Celery beat's job, every 2 s) publishes every one of them.

Two WebSocket clients of the first server stay connected throughout, from before Redis stops:
an instrument's stream and a trader's private one (`?token=`). Redis comes back empty, and the
streams must still be whole: after the snapshot, every message of the stream, each numbered one
more than the one before (a fresh snapshot may jump forward, the consumer's fallback), the
same messages the outbox numbered. Once the sweep has published everything, each client
reaches its stream's last number within a bounded wait; then a trade placed through the
second server reaches the first server's client live.

With each Redis layer: pub/sub (production's) re-subscribes by itself and loses what was
published before it had; the core layer's group memberships are gone with Redis's memory, and
the servers' stream hubs join their groups again (market.broadcast.StreamHub).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
import websockets

from tests.market.faults.conftest import Agent, HttpTraders, Servers, agent, child_env, report

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.slow]

UP_SECONDS = 3.0
DOWN_SECONDS = 5.0
BACK_SECONDS = 3.0
CONNECT_SECONDS = 30.0
# A consumer forwards what the group lost at its next cursor check (every 3 s): each message
# must reach its client within this long of its publication, on a machine other work keeps busy.
CATCH_UP_SECONDS = 30.0
LIVE_WAIT_SECONDS = 20.0


@pytest.mark.parametrize(
    "backend",
    ["channels_redis.pubsub.RedisPubSubChannelLayer", "channels_redis.core.RedisChannelLayer"],
)
def test_trading_goes_on_while_redis_is_down_and_streams_stay_whole(
    own_postgres, own_redis, backend
):
    env = child_env(
        DATABASE_URL=own_postgres.url, REDIS_URL=own_redis.url, CHANNEL_LAYER_BACKEND=backend
    )
    # One user more than trades: the live check's buyer. With no order of its own in the books,
    # its buy cannot be refused as a self-trade.
    market = agent("seed", env, traders=7, instruments=2, cash="50000.00")
    *trading, buyer = market["tokens"]
    # The first instrument's owner: it trades throughout, and sells in the live check.
    seller, symbol = trading[0], market["symbols"][0]
    streams = {
        f"/ws/instruments/{symbol}/": f"instrument.{symbol}",
        f"/ws/me/?token={seller}": f"user.{market['user_ids'][0]}",
    }
    servers = Servers(2, env)
    try:
        with StreamClients(servers.ports[0], list(streams)) as clients:
            with HttpTraders(servers.ports, trading, market["symbols"], threads=6) as traders:
                time.sleep(UP_SECONDS)
                own_redis.stop()
                down_at = time.monotonic()
                time.sleep(DOWN_SECONDS)
                accepted_while_down = traders.accepted_since(down_at)
                # What waits in the outbox: stored with the orders, not pushed.
                unpublished_while_down = agent("check", env, accepted=[])["unpublished"]
                own_redis.start()  # the same port, nothing remembered
                back_at = time.monotonic()
                time.sleep(BACK_SECONDS)
            tally = traders.tally
            swept = agent("sweep", env, tries=25)
            published = agent("sent", env, streams=list(streams.values()))
            for path, stream in streams.items():
                clients.wait_for_seq(path, published[stream]["last_seq"], CATCH_UP_SECONDS)
            trade = _trade_seen_live(servers.ports[1], clients, [seller, buyer], symbol)
            # The seller's order and fill, on its private stream.
            published = agent("sent", env, streams=list(streams.values()))
            for path, stream in streams.items():
                clients.wait_for_seq(path, published[stream]["last_seq"], LIVE_WAIT_SECONDS)
        logs = servers.text()
        assert servers.alive(), logs
    except BaseException:
        servers.keep_logs = True
        raise
    finally:
        servers.stop()
    # Once the servers are gone no relay can still be sending: the outbox is final.
    checking = Agent("check", env, accepted=sorted(tally.accepted))
    sent = agent("sent", env, streams=list(streams.values()))
    found = checking.result()

    received = {path: clients.received(path) for path in streams}
    report(
        "Redis restart",
        {
            **tally.summary(),
            "accepted while Redis was down": accepted_while_down,
            "unpublished events while down": unpublished_while_down,
            "swept after": swept,
            "stored orders": found["orders"],
            "trades": found["trades"],
            **{
                f"{stream} client": _stream_figures(
                    received[path], sent[stream]["messages"], down_at, back_at
                )
                for path, stream in streams.items()
            },
        },
    )
    assert tally.unexpected == [], f"{tally.unexpected[:3]}\n{logs[-3000:]}"
    assert tally.lost == 0
    assert sum(tally.unavailable.values()) == 0, "the API never depends on Redis"
    assert found["lost"] == []
    assert found["books"] == []
    assert accepted_while_down > 0, "orders were accepted while Redis was down"
    assert unpublished_while_down > 0, "the events of that time waited in the outbox"
    assert found["unpublished"] == 0, "every event was published once Redis was back"
    assert clients.ended == {}, "the clients stayed connected throughout"
    for path, stream in streams.items():
        messages = [arrival.message for arrival in received[path]]
        assert sequence_breaks(messages) == [], stream
        assert not_as_sent(messages, sent[stream]["messages"]) == [], stream
        assert max(_delays(received[path], sent[stream]["messages"])) < CATCH_UP_SECONDS, stream
        assert any(arrival.at < down_at for arrival in received[path][1:]), (
            f"{stream}: messages before Redis stopped"
        )
    assert trade.is_live, "the trade was pushed, not read back from the outbox"


@dataclass
class Arrival:
    message: dict[str, Any]
    at: float  # time.monotonic()
    wall: float  # time.time(), to compare with the outbox's publication times
    # Forwarded as the relay encoded it (compact JSON), not read back from the outbox by the
    # consumer (a gap filled, a catch-up, a snapshot: `send_json`, with spaces).
    is_live: bool


class StreamClients:
    """WebSocket clients of one server, each on its own path, connected for the whole case on
    an event loop in a thread of its own (the test's thread may hold a running loop of its own:
    the browser tests' sync Playwright). Each keeps every message it receives, as it came."""

    def __init__(self, port: int, paths: list[str]) -> None:
        self.port, self.paths = port, paths
        self._arrivals: dict[str, list[Arrival]] = {path: [] for path in paths}
        # Clients whose connection ended before the case closed it, and why.
        self.ended: dict[str, str] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(),), daemon=True)

    def __enter__(self) -> StreamClients:
        self._thread.start()
        try:
            for path in self.paths:
                self._wait(path, lambda arrivals: bool(arrivals), "the snapshot", CONNECT_SECONDS)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._closing is not None:
            self._loop.call_soon_threadsafe(self._closing.set)
        self._thread.join(timeout=30)

    def received(self, path: str) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals[path])

    def wait_for_seq(self, path: str, seq: int, seconds: float) -> None:
        """Until the client has been sent the stream's message `seq` (or a later one)."""
        self._wait(
            path,
            lambda arrivals: bool(arrivals) and arrivals[-1].message["seq"] >= seq,
            f"seq {seq}",
            seconds,
        )

    def wait_for(
        self, path: str, wanted: Callable[[dict[str, Any]], bool], what: str, seconds: float
    ) -> Arrival:
        """The first message from now on that is `wanted`."""
        start = len(self.received(path))
        self._wait(
            path, lambda arrivals: any(wanted(a.message) for a in arrivals[start:]), what, seconds
        )
        return next(a for a in self.received(path)[start:] if wanted(a.message))

    def _wait(
        self, path: str, done: Callable[[list[Arrival]], bool], what: str, seconds: float
    ) -> None:
        deadline = time.monotonic() + seconds
        while not done(self.received(path)):
            if path in self.ended or time.monotonic() > deadline:
                last = [_described(a.message) for a in self.received(path)[-5:]]
                raise AssertionError(
                    f"{path}: no {what} within {seconds:.0f} s "
                    f"(ended: {self.ended.get(path)}); the last received: {last}"
                )
            time.sleep(0.05)

    async def _run(self) -> None:
        self._loop, self._closing = asyncio.get_running_loop(), asyncio.Event()
        listening = [asyncio.ensure_future(self._listen(path)) for path in self.paths]
        await self._closing.wait()
        for listener in listening:
            listener.cancel()
        await asyncio.gather(*listening, return_exceptions=True)

    async def _listen(self, path: str) -> None:
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{self.port}{path}",
                origin="http://localhost",
                open_timeout=CONNECT_SECONDS,
            ) as client:
                async for text in client:
                    assert isinstance(text, str)
                    arrival = Arrival(
                        json.loads(text),
                        time.monotonic(),
                        time.time(),
                        is_live=text.startswith('{"type":"'),
                    )
                    with self._lock:
                        self._arrivals[path].append(arrival)
                ended = f"closed by the server: {client.close_code} {client.close_reason!r}"
        except asyncio.CancelledError:
            raise
        except Exception as error:
            ended = repr(error)
        with self._lock:
            self.ended[path] = ended


def sequence_breaks(messages: list[dict[str, Any]]) -> list[str]:
    """Where a stream's messages break its numbering: a snapshot first, then each message
    numbered one more than the one before (no gap, no repeat); a fresh snapshot may jump
    forward, and the next message follows it."""
    breaks = [] if messages and messages[0]["type"] == "snapshot" else ["no snapshot first"]
    for before, message in pairwise(messages):
        if message["type"] == "snapshot" and message["seq"] > before["seq"]:
            continue
        if message["seq"] != before["seq"] + 1:
            breaks.append(f"{_described(before)} then {_described(message)}")
    return breaks


def not_as_sent(messages: list[dict[str, Any]], sent: list[list[Any]]) -> list[str]:
    """The messages (snapshots aside) that are not the outbox's message of their number."""
    types = {seq: type_ for seq, type_, _ in sent}
    return [
        f"{_described(message)}: the outbox has {types.get(message['seq'])}"
        for message in messages
        if message["type"] != "snapshot" and types.get(message["seq"]) != message["type"]
    ]


def _delays(arrivals: list[Arrival], sent: list[list[Any]]) -> list[float]:
    """How long after its publication each message (snapshots aside) reached the client."""
    published_at = {seq: at for seq, _, at in sent}
    return [
        a.wall - published_at[a.message["seq"]]
        for a in arrivals
        if a.message["type"] != "snapshot" and a.message["seq"] in published_at
    ] or [0.0]


def _stream_figures(
    arrivals: list[Arrival], sent: list[list[Any]], down_at: float, back_at: float
) -> str:
    """Messages received (read back from the outbox by the consumer; while Redis was down),
    fresh snapshots, when the first came after Redis was back, and the longest delay."""
    snapshots = sum(a.message["type"] == "snapshot" for a in arrivals[1:])
    read_back = [a for a in arrivals[1:] if not a.is_live and a.message["type"] != "snapshot"]
    while_down = sum(down_at <= a.at < back_at for a in arrivals)
    after = [a.at - back_at for a in arrivals if a.at >= back_at]
    first_after = f"+{after[0]:.1f} s" if after else "never"
    return (
        f"{len(arrivals) - 1} messages after its snapshot ({len(read_back)} from the outbox, "
        f"{while_down} while Redis was down), {snapshots} fresh snapshots, the first after "
        f"Redis was back at {first_after}, delays up to {max(_delays(arrivals, sent)):.1f} s "
        f"({max(_delays(read_back, sent)):.1f} s from the outbox)"
    )


def _trade_seen_live(port: int, clients: StreamClients, tokens: list[str], symbol: str) -> Arrival:
    """The public client (of the other server) receives the trade of two orders sent to this
    one: the seller owns the instrument, the buyer never traded."""
    seller, buyer = tokens
    path = clients.paths[0]
    for token, side in ((seller, "sell"), (buyer, "buy")):
        status, body = _post(port, token, symbol=symbol, side=side, quantity=1, price="150.00")
        assert status == 201, body
    # The buy takes the best ask: the seller's at 150.00, or one a trader left below it
    # (the traders' prices are 98 to 102, and what rests when they stop is chance).
    (fill,) = body["fills"]
    return clients.wait_for(
        path,
        lambda message: message["type"] == "trade" and message["data"]["price"] == fill["price"],
        f"the trade at {fill['price']} (both orders answered 201)",
        LIVE_WAIT_SECONDS,
    )


def _described(message: dict[str, Any]) -> str:
    """A message in a few words: its type and number, and a trade's price."""
    described = f"{message['type']} seq {message.get('seq')}"
    if message["type"] == "trade":
        described += f" at {message['data']['price']}"
    return described


def _post(port: int, token: str, **order: Any) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request(
            "POST",
            "/api/v1/orders/",
            body=json.dumps(order),
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
