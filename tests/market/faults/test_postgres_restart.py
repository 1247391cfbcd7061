"""PostgreSQL restarts during trading (issue #11, fault d).

Two uvicorn servers trade on a cluster of the test's own while HTTP traders keep sending
orders and cancels; the cluster is restarted (`pg_ctl restart -m fast`: every session cut, open
transactions rolled back; again, up to three times, if it cut no request). Requests in flight
then fail cleanly, a 503 with a clear message, never a 500; the traders retry them as they were
(the same client_order_id), and trading goes on, on the same server processes, once the
database is back.

Beside them, a long-lived process trades through the service layer on one persistent database
connection, as a Celery worker or the embedded clock does (`close_old_connections()` around each
command): the command the restart cuts raises OperationalError and is retried as it was; the
process reconnects and goes on (CONN_MAX_AGE, CONN_HEALTH_CHECKS). Nothing is half-written: the
books reconcile and every accepted order is stored in one consistent state.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.market.faults.checks import EXPECTED_REJECTIONS
from tests.market.faults.conftest import (
    Agent,
    HttpTraders,
    Servers,
    agent,
    child_env,
    production_env,
    report,
)
from tests.market.realtime.conftest import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.slow]

BEFORE_SECONDS = 4.0
AFTER_SECONDS = 6.0
MAX_RESTARTS = 3


def wait_for_unavailable(traders: HttpTraders, seconds: float = 2.0) -> bool:
    """Whether a request the restart cut has been answered 503 (and retried) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if sum(traders.tally.unavailable.values()):
            return True
        time.sleep(0.05)
    return False


def test_trading_survives_a_postgres_restart(own_postgres, own_redis):
    env = child_env(DATABASE_URL=own_postgres.url, REDIS_URL=own_redis.url)
    market = agent("seed", env, traders=6, instruments=2, cash="50000.00")
    servers = Servers(2, env)
    try:
        pids = [process.pid for process in servers.processes]
        stop = own_postgres.workdir / "stop-trading"
        service_trader = Agent(
            "trade",
            production_env(env),
            user_ids=market["user_ids"],
            symbols=market["symbols"],
            stop=str(stop),
            seed=7,
        )
        wait_for(lambda: Path(f"{stop}.trading").exists(), "the service-layer trader", seconds=90)
        with HttpTraders(servers.ports, market["tokens"], market["symbols"], threads=5) as traders:
            time.sleep(BEFORE_SECONDS)
            accepted_before = len(traders.tally.accepted)
            # A restart cuts the requests whose transaction is open at that instant; at this
            # load one can fall between them. Then it is restarted again, a few times at most.
            restarts, restart_seconds = 0, 0.0
            while restarts < MAX_RESTARTS:
                restarts += 1
                restart_seconds += own_postgres.restart()
                back_at, back_at_wall = time.monotonic(), time.time()
                if wait_for_unavailable(traders):
                    break
            time.sleep(AFTER_SECONDS)
            stop.touch()
            service = service_trader.result()
        tally = traders.tally
        after_restart = traders.accepted_since(back_at)
        service_after_restart = sum(1 for at in service["accepted_at"] if at >= back_at_wall)
        logs = servers.text()
        assert servers.alive(), logs
        assert [process.pid for process in servers.processes] == pids
    finally:
        servers.stop()
    found = agent("check", env, accepted=sorted(tally.accepted | set(service["accepted"])))

    report(
        "PostgreSQL restart",
        {
            **tally.summary(),
            "restarts": restarts,
            "restart seconds": round(restart_seconds, 2),
            "accepted before": accepted_before,
            "accepted after the restart": after_restart,
            "service layer": {
                "attempted": service["attempted"],
                "accepted": len(service["accepted"]),
                "rejected": sum(service["rejected"].values()),
                "OperationalError retried": service["retried"],
                "lost": service["lost"],
                "accepted after the restart": service_after_restart,
            },
            "stored orders": found["orders"],
            "trades": found["trades"],
        },
    )
    assert tally.unexpected == [], f"{tally.unexpected[:3]}\n{logs[-3000:]}"
    assert tally.lost == 0
    assert found["lost"] == []
    assert found["books"] == []
    assert accepted_before > 0
    assert sum(tally.unavailable.values()) > 0, "the restart never met a request: it proved nothing"
    assert after_restart > 0, "trading went on after the restart"
    assert service["lost"] == 0
    assert set(service["rejected"]) <= EXPECTED_REJECTIONS
    assert service["attempted"] == len(service["accepted"]) + sum(service["rejected"].values())
    assert service_after_restart > 0, "the service-layer process reconnected and went on"
