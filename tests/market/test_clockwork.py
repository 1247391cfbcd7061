"""The embedded market clock (market/clockwork.py) and `manage.py serve`.

The thread is real; time is frozen with time-machine (which the thread sees too), and waits are
short Events, never sleeps on the real clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from daphne.management.commands.runserver import Command as DaphneRunserver
from django.core.management import call_command

from market import clock, clockwork
from market.calendar import get_calendar
from market.clockwork import (
    clockwork_running,
    next_wait_seconds,
    periodic_callables,
    register_periodic,
    start_clockwork,
    stop_clockwork,
    unregister_periodic,
)
from market.models import AuctionKind, AuctionRecord
from market.services.orders import order_place
from market.services.reconcile import reconcile
from tests.market.conftest import TRADING_DAY, market_time

WAIT = 5.0  # the longest any test waits for the thread: only when something is wrong
# Demo clock: cycle 0, the trading day 2026-11-18, starts at 12:00 UTC; 600 s a day, so its
# 09:30 opening is 60 s later (the first 10% of the cycle is 09:20 -> 09:30).
EPOCH = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
DEMO = {
    "MARKET_DEMO_DAY_SECONDS": 600,
    "MARKET_DEMO_EPOCH": EPOCH.isoformat(),
    "MARKET_DEMO_START_DATE": TRADING_DAY.isoformat(),
}


def clear_clock_caches() -> None:
    get_calendar.cache_clear()
    clock.demo_epoch.cache_clear()


@pytest.fixture(autouse=True)
def isolated_clockwork(monkeypatch) -> Iterator[None]:
    """No periodic callable registered elsewhere (the relay) runs here; the thread ends."""
    monkeypatch.setattr(clockwork, "_registry", [])
    clear_clock_caches()
    yield
    assert stop_clockwork(timeout=WAIT), "the clockwork thread did not stop"
    clear_clock_caches()


@pytest.fixture
def demo_clock(settings) -> None:
    for name, value in DEMO.items():
        setattr(settings, name, value)
    clear_clock_caches()


class FakeCatchUp:
    """Stands in for market_catch_up: counts calls, fails when told to, signals each call."""

    def __init__(self, failures: int = 0) -> None:
        self.calls = 0
        self.failures = failures
        self.called = threading.Event()
        self.succeeded = threading.Event()

    def __call__(self) -> list:
        self.calls += 1
        self.called.set()
        if self.calls <= self.failures:
            raise RuntimeError("database is down")
        self.succeeded.set()
        return []


@pytest.fixture
def fake_catch_up(monkeypatch) -> FakeCatchUp:
    fake = FakeCatchUp()
    monkeypatch.setattr(clockwork, "market_catch_up", fake)
    return fake


# --- the loop -------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo_clock")
def test_clockwork_runs_the_catch_up_and_stops_cleanly(fake_catch_up):
    with time_machine.travel(EPOCH + timedelta(seconds=120), tick=False):
        thread = start_clockwork()
        assert fake_catch_up.succeeded.wait(WAIT)

        assert clockwork_running()
        assert thread.name == "market-clockwork"
        assert thread.daemon
        assert stop_clockwork(timeout=WAIT)

    assert not thread.is_alive()
    assert not clockwork_running()
    calls = fake_catch_up.calls
    assert calls >= 1
    assert stop_clockwork(timeout=WAIT), "stopping twice is harmless"
    assert fake_catch_up.calls == calls, "nothing runs after the stop"


@pytest.mark.usefixtures("demo_clock")
def test_starting_twice_keeps_one_thread(fake_catch_up):
    first = start_clockwork()
    second = start_clockwork()

    assert second is first
    assert [t.name for t in threading.enumerate()].count("market-clockwork") == 1


@pytest.mark.usefixtures("demo_clock")
def test_a_failing_catch_up_is_logged_and_the_loop_goes_on(monkeypatch, caplog):
    fake = FakeCatchUp(failures=1)
    monkeypatch.setattr(clockwork, "market_catch_up", fake)
    monkeypatch.setattr(clockwork, "DEMO_MAX_WAIT_SECONDS", 0.01)
    caplog.set_level(logging.INFO, logger="market.clockwork")

    start_clockwork()
    assert fake.succeeded.wait(WAIT), "the loop survived the failure and ran again"
    assert stop_clockwork(timeout=WAIT)

    failures = [r for r in caplog.records if "catch-up failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelno == logging.ERROR
    assert failures[0].exc_info is not None
    assert failures[0].exc_info[0] is RuntimeError
    assert "market clockwork stopped" in caplog.messages


@pytest.mark.usefixtures("demo_clock")
def test_periodic_callables_run_every_turn_and_one_failure_spares_the_others(
    fake_catch_up, monkeypatch, caplog
):
    monkeypatch.setattr(clockwork, "DEMO_MAX_WAIT_SECONDS", 0.01)
    order: list[str] = []
    three_turns = threading.Event()

    def broken() -> None:
        order.append("broken")
        raise ValueError("relay down")

    def counting() -> None:
        order.append("counting")
        if order.count("counting") == 3:
            three_turns.set()

    register_periodic(broken)
    register_periodic(counting)

    start_clockwork()
    assert three_turns.wait(WAIT)
    assert stop_clockwork(timeout=WAIT)

    assert order[:6] == ["broken", "counting"] * 3
    assert fake_catch_up.calls >= 3
    assert any("periodic" in r.getMessage() and r.exc_info for r in caplog.records)


def test_register_periodic_once_and_unregister():
    def relay() -> None:
        pass

    assert register_periodic(relay) is relay
    register_periodic(relay)
    assert periodic_callables() == [relay]

    unregister_periodic(relay)
    assert periodic_callables() == []
    with pytest.raises(ValueError, match="positive"):
        register_periodic(relay, every_seconds=0)


# --- how long it sleeps ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("real_at", "expected"),
    [
        (market_time("09:29:50"), 10.01),  # 10 s to the opening, and a margin
        (market_time("15:54:59.5"), 0.51),  # half a second to the closing call
        (market_time("09:00"), 30.0),  # capped
        (market_time("12:00", TRADING_DAY + timedelta(days=3)), 30.0),  # a Saturday
    ],
)
def test_real_clock_sleeps_until_the_next_transition_at_most_30_s(settings, real_at, expected):
    settings.MARKET_DEMO_DAY_SECONDS = 0

    with time_machine.travel(real_at, tick=False):
        assert next_wait_seconds() == pytest.approx(expected)


@pytest.mark.usefixtures("demo_clock")
@pytest.mark.parametrize(
    ("seconds_into_cycle", "expected"),
    [
        (59.5, 0.51),  # virtual 09:29:55: the opening is 0.5 real seconds away
        (10, 1.0),  # virtual 09:21:40: 50 s away, capped at 1 s
        (300, 1.0),  # continuous trading
    ],
)
def test_demo_clock_sleeps_at_most_1_s(seconds_into_cycle, expected):
    with time_machine.travel(EPOCH + timedelta(seconds=seconds_into_cycle), tick=False):
        assert next_wait_seconds() == pytest.approx(expected)


def test_a_periodic_interval_shortens_the_sleep(settings):
    settings.MARKET_DEMO_DAY_SECONDS = 0
    register_periodic(lambda: None, every_seconds=2.0)

    with time_machine.travel(market_time("09:00"), tick=False):
        assert next_wait_seconds() == pytest.approx(2.0)


# --- with the real catch-up -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_clockwork_runs_the_opening_auction_on_the_demo_clock(
    travel, make_instrument, make_trader, settings
):
    travel("09:00")  # the real clock: listed in the pre-open of 2026-11-18
    instrument = make_instrument()
    buyer = make_trader(cash="5000.00")
    for user, side in ((instrument.vehicle.owner, "sell"), (buyer, "buy")):
        order_place(
            user_id=user.pk, symbol=instrument.symbol, side=side, quantity=10, price="100.00"
        )
    for name, value in DEMO.items():
        setattr(settings, name, value)
    clear_clock_caches()
    turned = threading.Event()
    register_periodic(turned.set)  # runs right after the turn's catch-up

    # Two real minutes into the demo cycle: virtual 10:21, the opening auction is due.
    travel("07:02")  # 12:02 UTC
    assert clock.now() > market_time("10:00")
    start_clockwork()
    assert turned.wait(WAIT)
    assert stop_clockwork(timeout=WAIT)

    record = AuctionRecord.objects.get()
    assert (record.kind, record.trading_date, record.volume) == (
        AuctionKind.OPENING,
        TRADING_DAY,
        10,
    )
    assert [str(found) for found in reconcile()] == []


# --- manage.py serve ------------------------------------------------------------------------


@pytest.fixture
def runserver_calls(monkeypatch) -> list[dict]:
    """Daphne's runserver, replaced: records its options and whether the clock was running."""
    calls: list[dict] = []

    def handle(self, *args, **options) -> None:
        calls.append({**options, "clock_running": clockwork_running()})

    monkeypatch.setattr(DaphneRunserver, "handle", handle)
    return calls


@pytest.mark.usefixtures("demo_clock", "fake_catch_up")
def test_serve_runs_daphne_without_the_reloader_and_with_the_clock(settings, runserver_calls):
    settings.MARKET_EMBEDDED_CLOCK = True

    call_command("serve", "127.0.0.1:8123")

    [options] = runserver_calls
    assert options["addrport"] == "127.0.0.1:8123"
    assert options["use_reloader"] is False
    assert options["clock_running"] is True
    assert not clockwork_running(), "the clock stops with the server"


@pytest.mark.usefixtures("fake_catch_up")
@pytest.mark.parametrize(
    ("embedded", "arguments"), [(False, []), (True, ["--no-clock"])], ids=["beat", "no-clock"]
)
def test_serve_without_the_embedded_clock(settings, runserver_calls, embedded, arguments):
    settings.MARKET_EMBEDDED_CLOCK = embedded

    call_command("serve", *arguments)

    [options] = runserver_calls
    assert options["use_reloader"] is False
    assert options["clock_running"] is False
