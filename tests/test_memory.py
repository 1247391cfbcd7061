"""Long-running processes freeze what they load for their life out of the garbage collector's
work, and collect young objects less often (config/memory.py): the web workers when they load
the app, Celery's pool processes when they start. What they would otherwise load at their first
request or task (the market calendar's holiday rules) is loaded before."""

from __future__ import annotations

import os
import subprocess
import sys

from config.memory import YOUNG_THRESHOLD

REPORT = (
    "import gc; from market.calendar import get_calendar; "
    "print(gc.get_freeze_count(), gc.get_threshold()[0], get_calendar.cache_info().currsize)"
)
CELERY_POOL_PROCESS = (
    "import django; django.setup(); import config.celery; "
    "from celery.signals import worker_process_init; worker_process_init.send(sender=None); "
)


def run(code: str) -> tuple[int, int, int]:
    """(objects frozen, young threshold, calendars loaded) after `code`, in a fresh interpreter."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    frozen, threshold, calendars = done.stdout.split()
    return int(frozen), int(threshold), int(calendars)


def test_a_fresh_interpreter_has_nothing_frozen():
    assert run(REPORT) == (0, 700, 0)


def test_the_web_entry_point_freezes_the_loaded_app():
    frozen, threshold, _ = run("import config.asgi; " + REPORT)

    # Django, DRF, Channels and the project: well over 100,000 objects on this machine.
    assert frozen > 50_000
    assert threshold == YOUNG_THRESHOLD


def test_a_celery_pool_process_tunes_itself_when_it_starts():
    frozen, threshold, _ = run(CELERY_POOL_PROCESS + REPORT)

    assert frozen > 50_000
    assert threshold == YOUNG_THRESHOLD


def test_the_web_entry_point_loads_the_calendar_before_the_first_request():
    assert run("import config.asgi; " + REPORT)[2] == 1


def test_a_celery_pool_process_loads_the_calendar_before_the_first_task():
    assert run(CELERY_POOL_PROCESS + REPORT)[2] == 1
