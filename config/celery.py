"""The Celery app. In production Redis is the broker and beat drives the market clock.

Beat is the only scheduler in production: run exactly one `celery -A config beat`. Its crontabs
are New York wall times (CELERY_TIMEZONE), so they follow daylight-saving time. Each job only
asks the catch-up service to run whatever is due, which is idempotent: the every-minute
catch-up repairs a job that was missed (no worker at 09:30, beat restarted, a lost message),
and a job that runs twice or on two workers makes one auction (docs/trading-day.md).
"""

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_process_init

from config.memory import tune_garbage_collector
from market.calendar import get_calendar

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("vehicle_exchange")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _prepare_pool_process(**kwargs: Any) -> None:
    """In each pool process, once Django and the tasks are loaded (an auction allocates tens of
    thousands of objects that live until its flush). The calendar loads its holiday rules
    first, not in the first task."""
    get_calendar()
    tune_garbage_collector()


TRADING_DAYS = "mon-fri"
CATCH_UP = "market.tasks.market_catch_up_task"

app.conf.beat_schedule = {
    # The scheduled transitions. Holidays need no special case: on a closed day nothing is due.
    "market-opening-auction": {
        "task": CATCH_UP,
        "schedule": crontab(hour="9", minute="30", day_of_week=TRADING_DAYS),
    },
    # The closing call begins: nothing runs yet (the phase follows from the clock); the
    # catch-up is there for anything still due.
    "market-closing-call": {
        "task": CATCH_UP,
        "schedule": crontab(hour="15", minute="55", day_of_week=TRADING_DAYS),
    },
    "market-closing-auction": {
        "task": CATCH_UP,
        "schedule": crontab(hour="16", minute="0", day_of_week=TRADING_DAYS),
    },
    "market-nightly-rollup": {
        "task": "market.tasks.nightly_rollup_task",
        "schedule": crontab(hour="16", minute="30", day_of_week=TRADING_DAYS),
    },
    # The safety net: a missed or early job is repaired within a minute. A message nobody
    # picked up within the minute is dropped; the next one does the same work.
    "market-catch-up": {
        "task": CATCH_UP,
        "schedule": crontab(minute="*"),
        "options": {"expires": 55},
    },
    # The real-time streams' sweep (market/relay.py, SWEEP_SECONDS): publishes what a relay
    # after commit left behind, and the phase changes the clock makes.
    "market-relay-sweep": {
        "task": "market.relay_sweep",
        "schedule": 2.0,
        "options": {"expires": 2},
    },
}
