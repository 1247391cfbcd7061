"""The trading calendar (MARKET_RULES section 4): trading days, session phases, scheduled times.

Pure: no database and no clock. Every question takes the instant it is about, so the real clock,
the demo clock and the tests all ask the same calendar. Instants are compared in UTC: Python
compares two datetimes of one zone by wall time, which is wrong in the hour a DST change repeats.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_rules
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# No real calendar closes for this long; a longer gap means the calendar has no trading days.
MAX_CLOSED_DAYS = 366
ONE_DAY = timedelta(days=1)


class SessionPhase(StrEnum):
    PRE_OPEN = "pre_open"
    CONTINUOUS = "continuous"
    CLOSING_CALL = "closing_call"


class TransitionKind(StrEnum):
    OPENING_AUCTION = "opening_auction"
    CLOSING_CALL = "closing_call"
    CLOSING_AUCTION = "closing_auction"


@dataclass(frozen=True)
class Session:
    trading_date: date
    phase: SessionPhase


class Transition(NamedTuple):
    at: datetime
    kind: TransitionKind


class MarketCalendar:
    """Trading days (Monday to Friday less holidays) and the times of one trading day.

    Holidays are the union of explicit dates and of the `holidays` package's financial calendars
    named by code ("NYSE"), which are computed one year at a time, when first asked about.
    """

    def __init__(
        self,
        *,
        tz: ZoneInfo,
        open_time: time,
        closing_call_time: time,
        close_time: time,
        holidays: Iterable[date] = (),
        holiday_calendars: Iterable[str] = (),
    ) -> None:
        if not open_time < closing_call_time < close_time:
            raise ValueError("need open_time < closing_call_time < close_time")
        self.tz = tz
        self.open_time = open_time
        self.closing_call_time = closing_call_time
        self.close_time = close_time
        self.holidays = frozenset(_as_date(day) for day in holidays)
        self.holiday_calendars = tuple(code.upper() for code in holiday_calendars)
        for code in self.holiday_calendars:
            _calendar_holidays(code, 2000)  # fails now, not at the first lookup, on a bad code

    def is_holiday(self, day: date) -> bool:
        day = _as_date(day)
        return day in self.holidays or any(
            day in _calendar_holidays(code, day.year) for code in self.holiday_calendars
        )

    def is_trading_day(self, day: date) -> bool:
        day = _as_date(day)
        return day.weekday() < 5 and not self.is_holiday(day)

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after `day`."""
        return self._search(_as_date(day), ONE_DAY)

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before `day`."""
        return self._search(_as_date(day), -ONE_DAY)

    def open_at(self, day: date) -> datetime:
        return self._at(day, self.open_time)

    def closing_call_at(self, day: date) -> datetime:
        return self._at(day, self.closing_call_time)

    def close_at(self, day: date) -> datetime:
        return self._at(day, self.close_time)

    def session_at(self, now: datetime) -> Session:
        """The session `now` belongs to; after the close and on closed days, the next pre-open."""
        day = self.localize(now).date()
        instant = now.astimezone(UTC)
        if not self.is_trading_day(day) or instant >= self.close_at(day):
            return Session(self.next_trading_day(day), SessionPhase.PRE_OPEN)
        if instant < self.open_at(day):
            return Session(day, SessionPhase.PRE_OPEN)
        if instant < self.closing_call_at(day):
            return Session(day, SessionPhase.CONTINUOUS)
        return Session(day, SessionPhase.CLOSING_CALL)

    def last_open(self, now: datetime) -> date | None:
        """The latest trading day whose opening auction time is at or before `now`."""
        return self._last(now, self.open_at)

    def last_close(self, now: datetime) -> date | None:
        """The latest trading day whose closing auction time is at or before `now`."""
        return self._last(now, self.close_at)

    def next_transition(self, now: datetime) -> Transition:
        """The next scheduled event strictly after `now`: (when, kind)."""
        session = self.session_at(now)
        day = session.trading_date
        if session.phase is SessionPhase.PRE_OPEN:
            return Transition(self.open_at(day), TransitionKind.OPENING_AUCTION)
        if session.phase is SessionPhase.CONTINUOUS:
            return Transition(self.closing_call_at(day), TransitionKind.CLOSING_CALL)
        return Transition(self.close_at(day), TransitionKind.CLOSING_AUCTION)

    def localize(self, moment: datetime) -> datetime:
        """`moment` in the market time zone; a naive datetime is a bug."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment!r}: market times must be aware")
        return moment.astimezone(UTC).astimezone(self.tz)

    def _at(self, day: date, wall_time: time) -> datetime:
        # Through UTC and back, so that a wall time in a DST gap becomes a real instant.
        wall = datetime.combine(_as_date(day), wall_time, tzinfo=self.tz)
        return wall.astimezone(UTC).astimezone(self.tz)

    def _last(self, now: datetime, event_at: Callable[[date], datetime]) -> date | None:
        day = self.localize(now).date()
        if self.is_trading_day(day) and event_at(day) <= now.astimezone(UTC):
            return day
        try:
            return self.previous_trading_day(day)
        except ValueError:
            return None

    def _search(self, day: date, step: timedelta) -> date:
        candidate = day
        for _ in range(MAX_CLOSED_DAYS):
            try:
                candidate += step
            except OverflowError:
                break
            if self.is_trading_day(candidate):
                return candidate
        raise ValueError(f"no trading day within {MAX_CLOSED_DAYS} days of {day}")


def _as_date(day: date) -> date:
    if isinstance(day, datetime):
        raise TypeError(f"expected a date, got the datetime {day!r}")
    return day


@functools.lru_cache(maxsize=256)
def _calendar_holidays(code: str, year: int) -> frozenset[date]:
    return frozenset(holiday_rules.financial_holidays(code, years=year))


@functools.cache
def get_calendar() -> MarketCalendar:
    """The market's calendar, from the MARKET_* settings (cached; `cache_clear()` in tests)."""
    dates: list[date] = []
    codes: list[str] = []
    for entry in settings.MARKET_HOLIDAYS:
        if isinstance(entry, date):
            dates.append(entry)
        elif entry.strip():
            try:
                dates.append(date.fromisoformat(entry.strip()))
            except ValueError:
                codes.append(entry.strip())
    try:
        return MarketCalendar(
            tz=ZoneInfo(settings.MARKET_TIME_ZONE),
            open_time=_setting_time(settings.MARKET_OPEN_TIME),
            closing_call_time=_setting_time(settings.MARKET_CLOSING_CALL_TIME),
            close_time=_setting_time(settings.MARKET_CLOSE_TIME),
            holidays=dates,
            holiday_calendars=codes,
        )
    except (ValueError, NotImplementedError, ZoneInfoNotFoundError) as error:
        raise ImproperlyConfigured(f"market calendar settings: {error}") from error


def _setting_time(value: time | str) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)
