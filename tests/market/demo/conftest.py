"""Demo fixtures: the market seeded at a fixed time, pictures in a temporary media folder.

The seed runs on Wednesday 2026-11-18 at 09:00 New York time (the pre-open), so its day of
history is Tuesday 2026-11-17. Tests seed a short history (`history_trades`) to stay fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from market import clock
from market.calendar import get_calendar
from market.demo.seed import SeedReport, demo_seed

NEW_YORK = ZoneInfo("America/New_York")
SEED_AT = datetime(2026, 11, 18, 9, 0, tzinfo=NEW_YORK)
HISTORY_DAY = date(2026, 11, 17)
TEST_HISTORY_TRADES = 6


def clear_clock_caches() -> None:
    get_calendar.cache_clear()
    clock.demo_epoch.cache_clear()


@pytest.fixture(autouse=True)
def demo_settings(settings, tmp_path: Path) -> Iterator[None]:
    """Demo mode on, the real clock, pictures written under the test's own folder."""
    settings.MARKET_DEMO_MODE = True
    settings.MARKET_DEMO_DAY_SECONDS = 0
    settings.MEDIA_ROOT = tmp_path / "media"
    clear_clock_caches()
    yield
    clear_clock_caches()


@pytest.fixture
def at_seed_time() -> Iterator[None]:
    with time_machine.travel(SEED_AT, tick=False):
        yield


@pytest.fixture
def seeded(db: None, at_seed_time: None) -> SeedReport:
    return demo_seed(history_trades=TEST_HISTORY_TRADES)
