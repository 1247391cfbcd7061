"""Redis stops and comes back during trading (issue #11, fault c).

Two uvicorn servers on a PostgreSQL cluster and a redis-server of the test's own (the channel
layer: live pushes), HTTP traders sending orders and cancels throughout. While Redis is down
the API still answers and stores every order; the events it could not push wait in the outbox.
Once Redis is back, the relay sweep (Celery beat's job, every 2 s) publishes every one of them,
and live pushes resume: a WebSocket client of one server sees a trade placed on the other.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import websockets

from tests.market.faults.conftest import HttpTraders, Servers, agent, child_env, report

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.slow]

UP_SECONDS = 3.0
DOWN_SECONDS = 5.0
BACK_SECONDS = 3.0
LIVE_WAIT_SECONDS = 20.0


def test_trading_goes_on_while_redis_is_down_and_pushes_resume(own_postgres, own_redis):
    env = child_env(DATABASE_URL=own_postgres.url, REDIS_URL=own_redis.url)
    # One user more than trades: the live check's buyer. With no order of its own in the books,
    # its buy cannot be refused as a self-trade.
    market = agent("seed", env, traders=7, instruments=2, cash="50000.00")
    *trading, buyer = market["tokens"]
    servers = Servers(2, env)
    try:
        with HttpTraders(servers.ports, trading, market["symbols"], threads=6) as traders:
            time.sleep(UP_SECONDS)
            own_redis.stop()
            down_at = time.monotonic()
            time.sleep(DOWN_SECONDS)
            accepted_while_down = traders.accepted_since(down_at)
            # What waits in the outbox: stored with the orders, not pushed.
            unpublished_while_down = agent("check", env, accepted=[])["unpublished"]
            own_redis.start()  # the same port, nothing remembered
            time.sleep(BACK_SECONDS)
        tally = traders.tally
        swept = agent("sweep", env, tries=25)
        # In a thread of its own: this worker's thread may already hold a running event loop
        # (the browser tests' sync Playwright), where asyncio.run() is refused.
        with ThreadPoolExecutor(max_workers=1) as thread:
            pushed = thread.submit(
                asyncio.run,
                _trade_seen_live(servers.ports, [trading[0], buyer], market["symbols"][0]),
            ).result()
        logs = servers.text()
        assert servers.alive(), logs
    except BaseException:
        servers.keep_logs = True
        raise
    finally:
        servers.stop()
    found = agent("check", env, accepted=sorted(tally.accepted))

    report(
        "Redis restart",
        {
            **tally.summary(),
            "accepted while Redis was down": accepted_while_down,
            "unpublished events while down": unpublished_while_down,
            "swept after": swept,
            "stored orders": found["orders"],
            "trades": found["trades"],
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
    assert pushed["type"] == "trade"


async def _trade_seen_live(ports: list[int], tokens: list[str], symbol: str) -> dict[str, Any]:
    """A client of the first server receives the trade of two orders sent to the second: the
    seller owns the instrument, the buyer never traded."""
    seller, buyer = tokens
    received: list[str] = []

    async def next_message(waiting_for: str) -> dict[str, Any]:
        try:
            text = await asyncio.wait_for(client.recv(), LIVE_WAIT_SECONDS)
        except TimeoutError:
            raise AssertionError(
                f"no message within {LIVE_WAIT_SECONDS:.0f} s while waiting for {waiting_for}; "
                f"received before: {received}"
            ) from None
        message: dict[str, Any] = json.loads(text)
        received.append(_described(message))
        return message

    async with websockets.connect(
        f"ws://127.0.0.1:{ports[0]}/ws/instruments/{symbol}/", origin="http://localhost"
    ) as client:
        snapshot = await next_message("the snapshot")
        assert snapshot["type"] == "snapshot"
        for token, side in ((seller, "sell"), (buyer, "buy")):
            status, body = await asyncio.to_thread(
                _post, ports[1], token, symbol=symbol, side=side, quantity=1, price="150.00"
            )
            assert status == 201, body
        # The buy takes the best ask: the seller's at 150.00, or one a trader left below it
        # (the traders' prices are 98 to 102, and what rests when they stop is chance).
        (fill,) = body["fills"]
        while True:
            message = await next_message(f"the trade at {fill['price']} (both orders answered 201)")
            if message["type"] == "trade" and message["data"]["price"] == fill["price"]:
                return message


def _described(message: dict[str, Any]) -> str:
    """A message in a few words: its type and number, and a trade's price."""
    described = f"{message['type']} seq {message.get('seq')}"
    if message["type"] == "trade":
        described += f" at {message['data']['price']}"
    return described


def _post(port: int, token: str, **order: Any) -> tuple[int, dict[str, Any]]:
    import http.client

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
