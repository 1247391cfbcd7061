"""The market clock: real time, or the demo clock's virtual time (MARKET_RULES section 4).

With MARKET_DEMO_DAY_SECONDS = D > 0, every real cycle of D seconds is one whole virtual trading
day, and consecutive cycles are consecutive trading days. Within a cycle the mapping is piecewise
linear, so that every phase gets time on screen:

    share of the cycle   virtual time
    first 10%            09:20 -> 09:30            pre-open
    next 75%             09:30 -> 15:55            continuous
    next 10%             15:55 -> 16:00            closing call
    last 5%              16:00 -> next trading day's 09:20

The mapping is a pure function of real time and of the epoch (the real instant cycle 0 starts,
and cycle 0's trading date), so every process that shares the epoch shows the same time, and
virtual time never goes backward. Arithmetic is in integer microseconds, in UTC.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from market.calendar import MarketCalendar, get_calendar

DEMO_PRE_OPEN = timedelta(minutes=10)
# Percent of a demo cycle given to pre-open, continuous, closing call and after the close.
DEMO_CYCLE_SHARES = (10, 75, 10, 5)
MICROSECOND = timedelta(microseconds=1)


def is_demo() -> bool:
    return settings.MARKET_DEMO_DAY_SECONDS > 0


def now() -> datetime:
    """The market's current time, aware, in the market time zone."""
    calendar = get_calendar()
    real_at = timezone.now()
    if not is_demo():
        return calendar.localize(real_at)
    return _demo_clock(calendar).to_virtual(real_at)


def to_real(virtual: datetime) -> datetime:
    """The real instant at which `now()` reaches `virtual` (to schedule, e.g. sleep until then)."""
    calendar = get_calendar()
    if not is_demo():
        return calendar.localize(virtual)
    return _demo_clock(calendar).to_real(virtual)


@functools.cache
def demo_epoch() -> tuple[datetime, date]:
    """(The real instant the demo clock's cycle 0 starts, cycle 0's virtual trading date).

    From MARKET_DEMO_EPOCH (an ISO datetime with its offset) and MARKET_DEMO_START_DATE (an ISO
    date) when set. Otherwise today at 00:00 UTC and today's date, fixed for the life of the
    process (cached; `cache_clear()` in tests) so that its clock never jumps back at midnight.
    """
    today_at = datetime.combine(timezone.now().astimezone(UTC).date(), time(), tzinfo=UTC)
    try:
        epoch_at = (
            datetime.fromisoformat(settings.MARKET_DEMO_EPOCH)
            if settings.MARKET_DEMO_EPOCH
            else today_at
        )
        start_date = (
            date.fromisoformat(settings.MARKET_DEMO_START_DATE)
            if settings.MARKET_DEMO_START_DATE
            else epoch_at.astimezone(UTC).date()
        )
    except ValueError as error:
        raise ImproperlyConfigured(
            f"MARKET_DEMO_EPOCH / MARKET_DEMO_START_DATE: {error}"
        ) from error
    if epoch_at.utcoffset() is None:
        raise ImproperlyConfigured("MARKET_DEMO_EPOCH needs a UTC offset, e.g. 2026-03-02T00:00Z")
    return epoch_at, start_date


@dataclass(frozen=True)
class DemoClock:
    """The demo mapping between real and virtual time; `start_date` must be a trading day."""

    calendar: MarketCalendar
    day_seconds: int
    epoch_at: datetime
    start_date: date

    def __post_init__(self) -> None:
        if self.day_seconds <= 0:
            raise ValueError("day_seconds must be positive")
        self.calendar.localize(self.epoch_at)
        if not self.calendar.is_trading_day(self.start_date):
            raise ValueError(f"{self.start_date} is not a trading day")

    def to_virtual(self, real_at: datetime) -> datetime:
        elapsed = _micros(self._utc(real_at) - self._utc(self.epoch_at))
        cycle, offset = divmod(elapsed, self._cycle_micros)
        real_marks = self._real_marks()
        virtual_marks = self._virtual_marks(self.cycle_date(cycle))
        segment = bisect_right(real_marks, offset) - 1
        virtual_offset = (
            (offset - real_marks[segment])
            * _micros(virtual_marks[segment + 1] - virtual_marks[segment])
            // (real_marks[segment + 1] - real_marks[segment])
        )
        virtual_at = virtual_marks[segment] + virtual_offset * MICROSECOND
        return virtual_at.astimezone(self.calendar.tz)

    def to_real(self, virtual_at: datetime) -> datetime:
        """The first real instant (to the microsecond) whose virtual time is at or after it."""
        virtual_utc = self._utc(virtual_at)
        day = self.trading_date_of(virtual_utc)
        real_marks = self._real_marks()
        virtual_marks = self._virtual_marks(day)
        segment = bisect_right(virtual_marks, virtual_utc) - 1
        virtual_span = _micros(virtual_marks[segment + 1] - virtual_marks[segment])
        offset = real_marks[segment] + _ceil_div(
            _micros(virtual_utc - virtual_marks[segment])
            * (real_marks[segment + 1] - real_marks[segment]),
            virtual_span,
        )
        elapsed = self._cycle_index(day) * self._cycle_micros + offset
        return (self._utc(self.epoch_at) + elapsed * MICROSECOND).astimezone(self.calendar.tz)

    def cycle_date(self, cycle: int) -> date:
        """The virtual trading date of a cycle (cycle 0 is `start_date`; may be negative)."""
        return _shift_trading_days(self.calendar, self.start_date, cycle)

    def trading_date_of(self, virtual_at: datetime) -> date:
        """The trading date whose cycle shows `virtual_at`: from its 09:20 to the next one's."""
        day = self.calendar.localize(virtual_at).date()
        if self.calendar.is_trading_day(day) and self._utc(virtual_at) >= self._pre_open_at(day):
            return day
        return self.calendar.previous_trading_day(day)

    @property
    def _cycle_micros(self) -> int:
        return self.day_seconds * 1_000_000

    def _real_marks(self) -> tuple[int, ...]:
        percents = accumulate(DEMO_CYCLE_SHARES, initial=0)  # 0, 10, 85, 95, 100
        return tuple(percent * self._cycle_micros // 100 for percent in percents)

    def _virtual_marks(self, day: date) -> tuple[datetime, ...]:
        calendar = self.calendar
        return (
            self._pre_open_at(day),
            self._utc(calendar.open_at(day)),
            self._utc(calendar.closing_call_at(day)),
            self._utc(calendar.close_at(day)),
            self._pre_open_at(calendar.next_trading_day(day)),
        )

    def _pre_open_at(self, day: date) -> datetime:
        return self._utc(self.calendar.open_at(day)) - DEMO_PRE_OPEN

    def _utc(self, moment: datetime) -> datetime:
        # Aware arithmetic within one zone is wall-clock arithmetic: wrong across DST, so UTC.
        return self.calendar.localize(moment).astimezone(UTC)

    def _cycle_index(self, day: date) -> int:
        return _count_trading_days(self.calendar, self.start_date, day)


def _demo_clock(calendar: MarketCalendar) -> DemoClock:
    epoch_at, start_date = demo_epoch()
    if not calendar.is_trading_day(start_date):
        start_date = calendar.next_trading_day(start_date)
    return DemoClock(
        calendar=calendar,
        day_seconds=settings.MARKET_DEMO_DAY_SECONDS,
        epoch_at=epoch_at,
        start_date=start_date,
    )


@functools.lru_cache(maxsize=64)
def _shift_trading_days(calendar: MarketCalendar, start: date, count: int) -> date:
    day = start
    for _ in range(abs(count)):
        day = calendar.next_trading_day(day) if count > 0 else calendar.previous_trading_day(day)
    return day


@functools.lru_cache(maxsize=64)
def _count_trading_days(calendar: MarketCalendar, start: date, end: date) -> int:
    """How many trading days `end` is after `start` (negative when before); both trade."""
    count, day = 0, start
    while day < end:
        day, count = calendar.next_trading_day(day), count + 1
    while day > end:
        day, count = calendar.previous_trading_day(day), count - 1
    return count


def _micros(delta: timedelta) -> int:
    return delta // MICROSECOND


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)
