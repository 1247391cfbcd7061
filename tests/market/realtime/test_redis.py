"""The streams over Redis: a real channel layer that can go away, and several server processes.

`redis`: needs redis-server (TEST_REDIS_URL says one is available; the tests that stop Redis
start their own on a free port). `postgres`: the cross-process test shares the test database
with uvicorn servers it starts, which needs PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.conf import settings as django_settings
from django.db import connection, connections
from django.utils import timezone
from rest_framework.authtoken.models import Token

from market import clock, relay
from market.models import MarketEvent
from market.services.control import market_open
from tests.market.realtime.conftest import (
    REDIS_LAYERS,
    assert_in_sequence,
    child_env,
    db,
    free_port,
    messages_of,
    port_open,
    redis_layer,
    wait_for,
)
from tests.market.realtime.test_streams import buyer, car, place, public_path, seller

__all__ = ["buyer", "car", "seller"]

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("backend", REDIS_LAYERS)
async def test_a_stream_over_redis_sends_the_snapshot_then_the_trade(
    open_stream, settings, backend, car, seller, buyer
):
    # A prefix of its own: the shared test Redis may serve other runs at the same time.
    settings.CHANNEL_LAYERS = redis_layer(
        django_settings.TEST_REDIS_URL, backend, prefix=f"vx-test-{uuid.uuid4().hex[:8]}:"
    )
    _, stream = await open_stream(public_path(car))
    snapshot = await stream.receive()

    await db(place)(seller, car.symbol, "sell", 2, "100.00")
    await db(place)(buyer, car.symbol, "buy", 2, "100.00")
    received = await stream.receive_until(lambda message: message["type"] == "trade")

    assert_in_sequence(received, after=snapshot["seq"])
    assert received[-1]["data"]["quantity"] == 2


@pytest.mark.parametrize("backend", REDIS_LAYERS)
async def test_events_missed_while_redis_was_down_arrive_in_order_once_it_is_back(
    open_stream, settings, backend, redis_server, car, seller, buyer
):
    settings.CHANNEL_LAYERS = redis_layer(redis_server.url, backend)
    _, stream = await open_stream(public_path(car))
    snapshot = await stream.receive()
    await db(place)(seller, car.symbol, "sell", 10, "101.00")
    before = await stream.receive_until(lambda message: message["type"] == "ticker")

    await asyncio.to_thread(redis_server.stop)
    for quantity in (3, 3, 4):
        await db(place)(buyer, car.symbol, "buy", quantity, "101.00")
    assert await stream.nothing(timeout=0.5)
    waiting = await db(MarketEvent.objects.filter(published_at__isnull=True).count)()
    await asyncio.to_thread(redis_server.start)
    await sweep_until_published()
    after = await stream.receive_until(
        lambda message: message["type"] == "ticker" and message["data"]["volume"] == 10,
        timeout=15,
    )

    assert waiting > 0
    assert_in_sequence(before + after, after=snapshot["seq"])
    assert [trade["data"]["quantity"] for trade in messages_of(after, "trade")] == [3, 3, 4]
    assert await db(MarketEvent.objects.filter(published_at__isnull=True).count)() == 0


async def sweep_until_published(tries: int = 10) -> None:
    """What the embedded clock or Celery beat does every 2 s, a little faster."""
    for _ in range(tries):
        await db(relay.relay_sweep)()
        if not await db(MarketEvent.objects.filter(published_at__isnull=True).exists)():
            return
        await asyncio.sleep(0.2)


# --- across processes -------------------------------------------------------------------------


def _database_url() -> str:
    db_settings = connection.settings_dict
    password = f":{db_settings['PASSWORD']}" if db_settings.get("PASSWORD") else ""
    return (
        f"postgres://{db_settings['USER']}{password}@{db_settings['HOST'] or '127.0.0.1'}:"
        f"{db_settings['PORT'] or 5432}/{db_settings['NAME']}"
    )


@pytest.fixture
def demo_clock(settings) -> Iterator[dict[str, str]]:
    """A demo clock half-way through a trading day's continuous session, the same in this
    process and in the servers it starts (they cannot share time-machine's frozen clock)."""
    values = {
        "MARKET_DEMO_DAY_SECONDS": "3600",
        "MARKET_DEMO_EPOCH": (timezone.now() - timedelta(seconds=1800)).isoformat(),
        "MARKET_DEMO_START_DATE": "2026-11-18",
    }
    settings.MARKET_DEMO_DAY_SECONDS = 3600
    settings.MARKET_DEMO_EPOCH = values["MARKET_DEMO_EPOCH"]
    settings.MARKET_DEMO_START_DATE = values["MARKET_DEMO_START_DATE"]
    clock.demo_epoch.cache_clear()
    yield values
    clock.demo_epoch.cache_clear()


@pytest.fixture(params=REDIS_LAYERS)
def backend(request) -> str:
    return str(request.param)


@pytest.fixture
def uvicorn_servers(redis_server, demo_clock, backend) -> Iterator[list[int]]:
    """Two uvicorn processes serving config.asgi on the test database and the test's Redis."""
    env = child_env(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_server.url,
        CHANNEL_LAYER_BACKEND=backend,
        PYTHONPATH=str(ROOT),
        **demo_clock,
    )
    ports = [free_port(), free_port()]
    logs = tempfile.TemporaryDirectory(prefix="vx-uvicorn-")
    processes = []
    for port in ports:
        log = open(Path(logs.name) / f"{port}.log", "wb")  # noqa: SIM115
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host",
                 "127.0.0.1", "--port", str(port), "--lifespan", "off", "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
    try:
        for port in ports:
            wait_for(lambda port=port: port_open(port), f"uvicorn on {port}", seconds=60)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        wait_for(_only_this_session_left, "the servers' database sessions to end")
        for path in sorted(Path(logs.name).iterdir()):
            output = path.read_text(errors="replace").strip()
            if output:
                print(f"--- uvicorn {path.name}\n{output}")
        logs.cleanup()


def _only_this_session_left() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        [(others,)] = cursor.fetchall()
    return others == 0


def _post_order(port: int, token: str, **order: Any) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/orders/",
        data=json.dumps(order).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


@pytest.mark.postgres
async def test_a_trade_placed_on_one_server_reaches_a_client_of_another(
    settings, demo_clock, redis_server, backend, uvicorn_servers, make_trader, make_instrument
):
    settings.CHANNEL_LAYERS = redis_layer(redis_server.url, backend)
    api_port, stream_port = uvicorn_servers

    def market() -> tuple[str, str, str]:
        owner = make_trader(cash="0")
        taker = make_trader(cash="5000.00")
        instrument = make_instrument(owner=owner)
        market_open(symbol=instrument.symbol)  # listed today: opened early by an operator
        return (
            instrument.symbol,
            Token.objects.create(user=owner).key,
            Token.objects.create(user=taker).key,
        )

    symbol, owner_token, taker_token = await db(market)()
    await db(connections.close_all)()  # the test database is the servers' now
    async with websockets.connect(
        f"ws://127.0.0.1:{stream_port}/ws/instruments/{symbol}/", origin="http://localhost"
    ) as client:
        snapshot = json.loads(await asyncio.wait_for(client.recv(), 20))
        await asyncio.to_thread(
            _post_order, api_port, owner_token, symbol=symbol, side="sell", quantity=7,
            price="100.00",
        )  # fmt: skip
        placed = await asyncio.to_thread(
            _post_order, api_port, taker_token, symbol=symbol, side="buy", quantity=7,
            price="100.00",
        )  # fmt: skip
        received = []
        while not received or received[-1]["type"] != "trade":
            received.append(json.loads(await asyncio.wait_for(client.recv(), 20)))

    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["phase"] == "continuous"
    assert placed["status"] == "filled"
    assert_in_sequence(received, after=snapshot["seq"])
    assert received[-1]["data"]["price"] == "100.00"
    assert received[-1]["data"]["quantity"] == 7
