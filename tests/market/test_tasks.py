"""The market's Celery tasks and beat schedule; on PostgreSQL with a real Redis, two real
workers racing the same auction."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from celery import Celery
from celery.schedules import crontab
from django.conf import settings
from django.db import connection

from config.celery import app
from market.models import AuctionKind, AuctionRecord, Trade
from market.services.orders import order_place
from market.services.reconcile import reconcile
from market.tasks import auction_run_task, market_catch_up_task, nightly_rollup_task
from tests.market.conftest import TRADING_DAY

ROOT = Path(__file__).resolve().parents[2]
CATCH_UP = "market.tasks.market_catch_up_task"


def cross(instrument, buyer, quantity: int = 10, price: str = "100.00") -> None:
    """A crossing ask and bid collected in the call phase."""
    for user, side in ((instrument.vehicle.owner, "sell"), (buyer, "buy")):
        order_place(
            user_id=user.pk, symbol=instrument.symbol, side=side, quantity=quantity, price=price
        )


# --- the beat schedule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "task", "hour", "minute"),
    [
        ("market-opening-auction", CATCH_UP, {9}, {30}),
        ("market-closing-call", CATCH_UP, {15}, {55}),
        ("market-closing-auction", CATCH_UP, {16}, {0}),
        ("market-nightly-rollup", "market.tasks.nightly_rollup_task", {16}, {30}),
    ],
)
def test_beat_runs_the_day_in_new_york_time_on_weekdays(entry, task, hour, minute):
    scheduled = app.conf.beat_schedule[entry]
    schedule = scheduled["schedule"]

    assert scheduled["task"] == task
    assert isinstance(schedule, crontab)
    assert (schedule.hour, schedule.minute) == (hour, minute)
    assert schedule.day_of_week == {1, 2, 3, 4, 5}
    assert app.conf.timezone == "America/New_York"


def test_beat_catches_up_every_minute():
    scheduled = app.conf.beat_schedule["market-catch-up"]

    assert scheduled["task"] == CATCH_UP
    assert scheduled["schedule"].minute == set(range(60))
    assert scheduled["schedule"].hour == set(range(24))


def test_beat_sweeps_the_real_time_streams():
    from market.relay import SWEEP_SECONDS

    scheduled = app.conf.beat_schedule["market-relay-sweep"]

    assert (scheduled["task"], scheduled["schedule"]) == ("market.relay_sweep", SWEEP_SECONDS)


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()

    for scheduled in app.conf.beat_schedule.values():
        assert scheduled["task"] in app.tasks


def test_tasks_acknowledge_late_and_requeue_when_a_worker_dies():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True


# --- the tasks, eagerly (embedded mode: no Redis) -------------------------------------------


@pytest.mark.django_db
def test_catch_up_task_runs_the_due_auctions_once(travel, make_instrument, make_trader):
    travel("09:00")
    instrument = make_instrument()
    cross(instrument, make_trader())
    travel("09:31")

    ran = market_catch_up_task.delay().get()
    again = market_catch_up_task.delay().get()

    assert ran == [AuctionRecord.objects.get().pk]
    assert again == []


@pytest.mark.django_db
def test_auction_task_run_twice_stores_one_auction(travel, make_instrument, make_trader):
    travel("09:00")
    instrument = make_instrument()
    cross(instrument, make_trader())
    arguments = (instrument.pk, TRADING_DAY.isoformat(), "opening")

    first = auction_run_task.delay(*arguments).get()
    second = auction_run_task.delay(*arguments).get()

    assert first == second == AuctionRecord.objects.get().pk
    assert Trade.objects.count() == 1


@pytest.mark.django_db
def test_auction_task_refuses_an_unknown_kind(make_instrument):
    instrument = make_instrument()

    with pytest.raises(ValueError, match="sideways"):
        auction_run_task.delay(instrument.pk, TRADING_DAY.isoformat(), "sideways").get()


def test_nightly_rollup_task_calls_the_rollup_service(monkeypatch):
    calls = []
    fake = types.ModuleType("market.services.rollups")
    fake.rollup_run = lambda: calls.append("rolled up") or []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "market.services.rollups", fake)

    nightly_rollup_task.delay().get()

    assert calls == ["rolled up"]


def test_nightly_rollup_task_skips_when_the_service_is_missing(monkeypatch, caplog):
    # None in sys.modules makes the import fail as if the module did not exist.
    monkeypatch.setitem(sys.modules, "market.services.rollups", None)

    assert nightly_rollup_task.delay().get() is None

    assert "nightly rollup skipped" in caplog.text


# --- PostgreSQL and Redis: two real workers race one auction ---------------------------------


def database_url_for_tests() -> str:
    """The URL of the database the tests run on (its NAME is the test database's)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "localhost", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


class Workers:
    """Celery workers as subprocesses, each on its own log file, consuming one private queue."""

    def __init__(self, count: int, logs: Path) -> None:
        self.queue = f"vx-test-{uuid.uuid4().hex[:12]}"
        self.logs = [logs / f"worker{n}.log" for n in range(count)]
        self.processes: list[subprocess.Popen] = []
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "REDIS_URL": settings.TEST_REDIS_URL,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "PYTHONPATH": str(ROOT),
            "CONN_MAX_AGE": "0",
        }
        for n, log in enumerate(self.logs):
            command = [
                sys.executable, "-m", "celery", "-A", "config", "worker",
                "--pool=solo", "--loglevel=INFO", "-Q", self.queue, "-n", f"{self.queue}-{n}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ]  # fmt: skip
            with log.open("w") as output:
                self.processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
                    )
                )

    def text(self) -> str:
        return "\n".join(log.read_text() for log in self.logs)

    def wait_for(self, pattern: str, count: int, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.text())
            if len(found) >= count:
                return found
            if any(process.poll() is not None for process in self.processes):
                break
            time.sleep(0.1)
        raise AssertionError(f"expected {count} x {pattern!r} in the worker logs:\n{self.text()}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()  # a warm shutdown: the current task finishes
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def two_workers(tmp_path) -> Iterator[Workers]:
    workers = Workers(2, tmp_path)
    try:
        yield workers
    finally:
        workers.stop()
        _forget_queue(workers.queue)


def _forget_queue(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(settings.TEST_REDIS_URL)
    client.delete(queue, f"_kombu.binding.{queue}")
    client.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_one_auction_at_once_store_it_once(
    travel, make_instrument, make_trader, two_workers
):
    travel("09:00")
    instrument = make_instrument()
    buyers = [make_trader(cash="5000.00") for _ in range(3)]
    for buyer in buyers:
        cross(instrument, buyer, quantity=10, price="100.00")
    two_workers.wait_for(r"\bready\.", count=2, seconds=60)
    producer = Celery("vx-test-producer", broker=settings.TEST_REDIS_URL, set_as_current=False)
    arguments = [instrument.pk, TRADING_DAY.isoformat(), AuctionKind.OPENING.value]

    try:
        for _ in range(2):
            producer.send_task(
                "market.tasks.auction_run_task", args=arguments, queue=two_workers.queue
            )
        returned = two_workers.wait_for(
            r"auction_run_task\[[0-9a-f-]+\] succeeded in [0-9.]+s: (\w+)", count=2, seconds=60
        )
    finally:
        producer.close()

    record = AuctionRecord.objects.get()
    assert returned == [str(record.pk)] * 2, "both tasks answer with the one auction"
    assert two_workers.text().count("opening auction 2026-11-18") == 1, "one ran it"
    assert (record.kind, record.trading_date, record.volume) == (
        AuctionKind.OPENING,
        TRADING_DAY,
        30,
    )
    trades = Trade.objects.filter(auction=record)
    assert trades.count() == Trade.objects.count() == 3
    assert sum(trades.values_list("quantity", flat=True)) == record.volume
    assert [str(found) for found in reconcile()] == []
