"""A Celery worker killed in the middle of an auction, and the same task delivered twice
(issue #11, fault b and the money-moving tasks).

A real worker (prefork, as production runs it) on the test database and a redis-server of the
test's own takes the opening auction's task; its pool process is SIGKILLed with the auction's
transaction open, every row written and the commit not sent (tests/market/faults/celery_app.py
holds it there). PostgreSQL rolls the transaction back; the worker, acknowledging late and
rejecting what a lost process held (CELERY_TASK_ACKS_LATE, CELERY_TASK_REJECT_ON_WORKER_LOST),
puts the message back on the queue and runs it again: one auction, the books reconcile. The
same task sent once more afterwards, as a duplicate delivery would be, changes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from market.models import AuctionKind, AuctionRecord, CashAccount, LedgerEntry, Position, Trade
from market.services.orders import order_place
from tests.market.conftest import TRADING_DAY
from tests.market.faults.checks import books_problems
from tests.market.faults.conftest import ROOT, report
from tests.market.test_tasks import database_url_for_tests

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

TASK = "market.tasks.auction_run_task"
SUCCEEDED = re.compile(r"auction_run_task\[[0-9a-f-]+\] succeeded in [0-9.]+s: (\w+)")


class Worker:
    """`celery worker` with one prefork pool process, consuming a private queue."""

    def __init__(self, redis_url: str, hold: Path, log: Path) -> None:
        self.queue = f"vx-faults-{uuid.uuid4().hex[:12]}"
        self.log = log
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "PYTHONPATH": str(ROOT),
            "CONN_MAX_AGE": "0",
            "VX_FAULTS_HOLD": str(hold),
        }
        with log.open("w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tests.market.faults.celery_app", "worker",
                 "--pool=prefork", "--concurrency=1", "--loglevel=INFO", "-Q", self.queue,
                 "-n", f"{self.queue}@%h", "--without-gossip", "--without-mingle",
                 "--without-heartbeat"],
                cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str | re.Pattern[str], count: int, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.text())
            if len(found) >= count:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"expected {count} x {pattern!r} in the worker's log:\n{self.text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def worker(own_redis) -> Iterator[tuple[Worker, Path]]:
    workdir = Path(tempfile.mkdtemp(prefix="vx-faults-worker-"))
    hold = workdir / "hold"
    started = Worker(own_redis.url, hold, workdir / "worker.log")
    try:
        yield started, hold
    finally:
        started.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def money_state() -> tuple[list[tuple[int, str, str]], list[tuple[int, int, int, int]], int, int]:
    """Every cash balance and reservation, every position, the ledger's and trades' sizes."""
    cash = [
        (account.pk, str(account.balance_amount), str(account.reserved_amount))
        for account in CashAccount.objects.order_by("pk")
    ]
    positions = list(
        Position.objects.order_by("pk").values_list(
            "pk", "quantity", "reserved_quantity", "instrument_id"
        )
    )
    return cash, positions, LedgerEntry.objects.count(), Trade.objects.count()


def test_a_worker_killed_mid_auction_reruns_it_once_and_a_duplicate_changes_nothing(
    travel, make_instrument, make_trader, worker, own_redis
):
    started, hold = worker
    travel("09:00")
    instrument = make_instrument()
    owner = instrument.vehicle.owner
    for buyer in [make_trader(cash="5000.00") for _ in range(3)]:
        for user, side in ((owner, "sell"), (buyer, "buy")):
            order_place(
                user_id=user.pk, symbol=instrument.symbol, side=side, quantity=10, price="100.00"
            )
    before = money_state()
    started.wait_for(r"\bready\.", count=1, seconds=90)
    hold.write_text("")
    producer = Celery("vx-faults-producer", broker=own_redis.url, set_as_current=False)
    arguments = [instrument.pk, TRADING_DAY.isoformat(), AuctionKind.OPENING.value]

    try:
        producer.send_task(TASK, args=arguments, queue=started.queue)
        held = Path(f"{hold}.held")
        deadline = time.monotonic() + 90
        while not (held.exists() and held.read_text()):
            assert time.monotonic() < deadline, f"the auction never ran:\n{started.text()}"
            time.sleep(0.05)
        pool_pid = int(held.read_text())
        assert pool_pid != started.process.pid, "the pool's process runs the task"
        assert not AuctionRecord.objects.exists(), "held before its commit"
        killed_at = time.monotonic()
        os.kill(pool_pid, signal.SIGKILL)
        returned = started.wait_for(SUCCEEDED, count=1, seconds=90)
        rerun_seconds = time.monotonic() - killed_at
        after_rerun = money_state()
        # A duplicate delivery of the same message: the same task, the same arguments.
        producer.send_task(TASK, args=arguments, queue=started.queue)
        returned = started.wait_for(SUCCEEDED, count=2, seconds=90)
    finally:
        producer.close()

    log = started.text()
    record = AuctionRecord.objects.get()
    report(
        "worker killed mid-auction",
        {
            "killed pool pid": pool_pid,
            "rerun succeeded after s": round(rerun_seconds, 2),
            "auction volume": record.volume,
            "task answers": returned,
        },
    )
    assert "WorkerLostError" in log, log
    assert returned == [str(record.pk)] * 2, "the rerun ran it, the duplicate found it"
    assert log.count("opening auction 2026-11-18") == 1, "stored once"
    assert (record.kind, record.trading_date, record.volume) == (
        AuctionKind.OPENING,
        TRADING_DAY,
        30,
    )
    assert Trade.objects.filter(auction=record).count() == Trade.objects.count() == 3
    assert after_rerun != before, "the auction moved cash and shares"
    assert money_state() == after_rerun, "the duplicate moved nothing"
    assert books_problems() == []
