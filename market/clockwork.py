"""The embedded market clock: a daemon thread of the web process (embedded mode, no Redis).

Each turn of its loop runs the catch-up service (every auction that is due and has not run),
then every registered periodic callable (the outbox relay, the simulator), then sleeps until the
real instant of the next scheduled transition, but at most 1 s on the demo clock and 30 s on the
real one. The catch-up is idempotent, so waking early or late never matters: the loop only has
to wake soon after each transition. An exception is logged and the loop goes on; `stop_clockwork`
ends it at once. `manage.py serve` starts it; production uses Celery beat (config/celery.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from market import clock
from market.calendar import get_calendar
from market.services.auctions import market_catch_up

logger = logging.getLogger(__name__)

# The longest sleep between two turns: short on the demo clock, where a phase lasts seconds.
DEMO_MAX_WAIT_SECONDS = 1.0
REAL_MAX_WAIT_SECONDS = 30.0
# Wake this much after a transition's real instant, never just before it.
WAKE_MARGIN_SECONDS = 0.01

Periodic = Callable[[], object]


@dataclass(frozen=True)
class _Registration:
    fn: Periodic
    every_seconds: float | None


_registry_lock = threading.Lock()
_registry: list[_Registration] = []


def register_periodic(fn: Periodic, *, every_seconds: float | None = None) -> Periodic:
    """Call `fn()` on every turn of the clockwork's loop, after the catch-up. With
    `every_seconds`, the loop also turns at least that often. Registering again is a no-op.
    Usable as a decorator; returns `fn`."""
    if every_seconds is not None and every_seconds <= 0:
        raise ValueError("every_seconds must be positive")
    with _registry_lock:
        if all(registration.fn is not fn for registration in _registry):
            _registry.append(_Registration(fn, every_seconds))
    return fn


def unregister_periodic(fn: Periodic) -> None:
    with _registry_lock:
        _registry[:] = [registration for registration in _registry if registration.fn is not fn]


def periodic_callables() -> list[Periodic]:
    with _registry_lock:
        return [registration.fn for registration in _registry]


def next_wait_seconds() -> float:
    """Seconds until just after the next scheduled transition, capped (see the module doc)."""
    cap = DEMO_MAX_WAIT_SECONDS if clock.is_demo() else REAL_MAX_WAIT_SECONDS
    with _registry_lock:
        intervals = [r.every_seconds for r in _registry if r.every_seconds is not None]
    transition = get_calendar().next_transition(clock.now())
    until = (clock.to_real(transition.at) - timezone.now()).total_seconds()
    return min(cap, *intervals, max(until, 0.0) + WAKE_MARGIN_SECONDS)


def clockwork_tick() -> None:
    """One turn: the catch-up, then each periodic callable; every failure is logged, none
    stops the others or the loop."""
    close_old_connections()
    try:
        market_catch_up()
    except Exception:
        logger.exception("market clockwork: the catch-up failed; it runs again next turn")
    for fn in periodic_callables():
        try:
            fn()
        except Exception:
            logger.exception("market clockwork: periodic %r failed", fn)
    close_old_connections()


def run_clockwork(stop: threading.Event) -> None:
    """The loop, until `stop` is set (the thread's target; `manage.py run_clock` runs it in the
    foreground)."""
    day_seconds = settings.MARKET_DEMO_DAY_SECONDS
    logger.info(
        "market clockwork started (%s)",
        f"demo clock, {day_seconds} s a trading day" if clock.is_demo() else "real clock",
    )
    try:
        while not stop.is_set():
            clockwork_tick()
            try:
                wait = next_wait_seconds()
            except Exception:
                logger.exception("market clockwork: cannot compute the next transition")
                wait = DEMO_MAX_WAIT_SECONDS if clock.is_demo() else REAL_MAX_WAIT_SECONDS
            stop.wait(wait)
    except Exception:
        logger.critical("market clockwork died", exc_info=True)
        raise
    finally:
        connections.close_all()
        logger.info("market clockwork stopped")


class _Clockwork:
    """The one clockwork thread of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> threading.Thread:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self._thread
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=run_clockwork, args=(self._stop,), name="market-clockwork", daemon=True
            )
            self._thread.start()
            return self._thread

    def stop(self, timeout: float) -> bool:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def is_running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()


_clockwork = _Clockwork()


def start_clockwork() -> threading.Thread:
    """Start the clockwork thread, once per process (a second call returns the running one)."""
    return _clockwork.start()


def stop_clockwork(timeout: float = 10.0) -> bool:
    """Stop the thread and wait for it: True when it has ended (a turn in progress finishes
    first)."""
    return _clockwork.stop(timeout)


def clockwork_running() -> bool:
    return _clockwork.is_running()
