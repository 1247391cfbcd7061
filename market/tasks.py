"""Celery tasks of the market clock (MARKET_RULES 4). Thin: they take ids and strings, re-read
the state through one service, and are safe to run twice or on two workers at once (every
auction is stored once per instrument, trading date and kind, under the instrument lock).

Beat (config/celery.py) is the only scheduler in production; the every-minute catch-up makes a
missed or late job harmless. In embedded mode (no REDIS_URL) the tasks run eagerly and the
embedded clock (market/clockwork.py) calls the catch-up service itself.
"""

from __future__ import annotations

import importlib
import logging
from datetime import date

from celery import shared_task

from market.models import AuctionKind
from market.relay import relay_sweep_task
from market.services.auctions import auction_run, market_catch_up

logger = logging.getLogger(__name__)

ROLLUPS_MODULE = "market.services.rollups"

# Beat also runs the real-time streams' sweep, defined with the relay; importing it here makes
# every worker know the task.
__all__ = ["auction_run_task", "market_catch_up_task", "nightly_rollup_task", "relay_sweep_task"]


@shared_task
def market_catch_up_task() -> list[int]:
    """Run every scheduled auction that is due and has not run; the ids of those that ran."""
    return [record.pk for record in market_catch_up()]


@shared_task
def auction_run_task(instrument_id: int, trading_date_iso: str, kind: str) -> int | None:
    """Run one auction (or find the one already stored); its id, or None if it cannot run."""
    record = auction_run(
        instrument_id=instrument_id,
        trading_date=date.fromisoformat(trading_date_iso),
        kind=AuctionKind(kind),
    )
    return record.pk if record is not None else None


@shared_task
def nightly_rollup_task() -> None:
    """The nightly daily P&L rollup, leaderboard, streaks and badges (MARKET_RULES 7)."""
    try:
        rollups = importlib.import_module(ROLLUPS_MODULE)
    except ModuleNotFoundError as error:
        if error.name != ROLLUPS_MODULE:
            raise
        logger.warning("nightly rollup skipped: %s is not installed", ROLLUPS_MODULE)
        return
    rollups.rollup_run()
