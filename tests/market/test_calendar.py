from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from market.calendar import (
    MarketCalendar,
    Session,
    SessionPhase,
    Transition,
    TransitionKind,
    get_calendar,
)

NEW_YORK = ZoneInfo("America/New_York")
PRE_OPEN = SessionPhase.PRE_OPEN
CONTINUOUS = SessionPhase.CONTINUOUS
CLOSING_CALL = SessionPhase.CLOSING_CALL


def ny(*fields: int) -> datetime:
    """New York wall time: year, month, day[, hour, minute, second]."""
    return datetime(*fields, tzinfo=NEW_YORK)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def nyse_calendar(**overrides: object) -> MarketCalendar:
    arguments: dict[str, object] = {
        "tz": NEW_YORK,
        "open_time": time(9, 30),
        "closing_call_time": time(15, 55),
        "close_time": time(16, 0),
        "holiday_calendars": ["NYSE"],
    }
    arguments.update(overrides)
    return MarketCalendar(**arguments)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _fresh_calendar() -> Iterator[None]:
    get_calendar.cache_clear()
    yield
    get_calendar.cache_clear()


@pytest.fixture
def calendar() -> MarketCalendar:
    return nyse_calendar()


# Tuesday 2026-03-03 is an ordinary trading day.
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ny(2026, 3, 3, 0, 0), Session(date(2026, 3, 3), PRE_OPEN)),
        (ny(2026, 3, 3, 9, 29, 59), Session(date(2026, 3, 3), PRE_OPEN)),
        (ny(2026, 3, 3, 9, 30), Session(date(2026, 3, 3), CONTINUOUS)),
        (ny(2026, 3, 3, 12, 0), Session(date(2026, 3, 3), CONTINUOUS)),
        (ny(2026, 3, 3, 15, 54, 59), Session(date(2026, 3, 3), CONTINUOUS)),
        (ny(2026, 3, 3, 15, 55), Session(date(2026, 3, 3), CLOSING_CALL)),
        (ny(2026, 3, 3, 15, 59, 59), Session(date(2026, 3, 3), CLOSING_CALL)),
        (ny(2026, 3, 3, 16, 0), Session(date(2026, 3, 4), PRE_OPEN)),
        (ny(2026, 3, 3, 23, 59, 59), Session(date(2026, 3, 4), PRE_OPEN)),
    ],
)
def test_session_phase_on_an_ordinary_day(calendar, now, expected):
    assert calendar.session_at(now) == expected


def test_session_accepts_any_aware_time_zone(calendar):
    assert calendar.session_at(utc(2026, 3, 3, 14, 30)) == Session(date(2026, 3, 3), CONTINUOUS)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Friday's close starts Monday's pre-open, through the weekend.
        (ny(2026, 3, 6, 16, 0), Session(date(2026, 3, 9), PRE_OPEN)),
        (ny(2026, 3, 7, 12, 0), Session(date(2026, 3, 9), PRE_OPEN)),
        (ny(2026, 3, 8, 12, 0), Session(date(2026, 3, 9), PRE_OPEN)),
        # Independence Day observed on Friday 2026-07-03: Thursday's close runs to Monday.
        (ny(2026, 7, 2, 16, 0), Session(date(2026, 7, 6), PRE_OPEN)),
        (ny(2026, 7, 3, 10, 0), Session(date(2026, 7, 6), PRE_OPEN)),
        # Thanksgiving.
        (ny(2026, 11, 26, 10, 0), Session(date(2026, 11, 27), PRE_OPEN)),
    ],
)
def test_closed_days_belong_to_the_next_pre_open(calendar, now, expected):
    assert calendar.session_at(now) == expected


@pytest.mark.parametrize(
    ("day", "is_trading"),
    [
        (date(2026, 3, 6), True),  # Friday
        (date(2026, 3, 7), False),  # Saturday
        (date(2026, 3, 8), False),  # Sunday
        (date(2026, 1, 1), False),  # New Year's Day
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 7, 3), False),  # Independence Day, observed
        (date(2026, 11, 26), False),  # Thanksgiving
        (date(2026, 11, 27), True),  # the day after Thanksgiving trades
        (date(2026, 12, 25), False),  # Christmas
    ],
)
def test_trading_days_are_weekdays_less_nyse_holidays(calendar, day, is_trading):
    assert calendar.is_trading_day(day) is is_trading


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 3), date(2026, 3, 4)),
        (date(2026, 3, 6), date(2026, 3, 9)),  # weekend
        (date(2026, 3, 7), date(2026, 3, 9)),
        (date(2026, 7, 2), date(2026, 7, 6)),  # holiday and weekend
        (date(2026, 11, 25), date(2026, 11, 27)),  # Thanksgiving
        (date(2026, 12, 31), date(2027, 1, 4)),  # New Year's Day, then a weekend
    ],
)
def test_next_trading_day_skips_weekends_and_holidays(calendar, day, expected):
    assert calendar.next_trading_day(day) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 4), date(2026, 3, 3)),
        (date(2026, 3, 9), date(2026, 3, 6)),  # weekend
        (date(2026, 3, 8), date(2026, 3, 6)),
        (date(2026, 7, 6), date(2026, 7, 2)),  # weekend and holiday
        (date(2026, 11, 27), date(2026, 11, 25)),  # Thanksgiving
    ],
)
def test_previous_trading_day_skips_weekends_and_holidays(calendar, day, expected):
    assert calendar.previous_trading_day(day) == expected


@pytest.mark.parametrize(
    ("day", "open_utc", "close_utc"),
    [
        (date(2026, 3, 6), utc(2026, 3, 6, 14, 30), utc(2026, 3, 6, 21, 0)),  # EST
        (date(2026, 3, 9), utc(2026, 3, 9, 13, 30), utc(2026, 3, 9, 20, 0)),  # EDT
        (date(2026, 10, 30), utc(2026, 10, 30, 13, 30), utc(2026, 10, 30, 20, 0)),  # EDT
        (date(2026, 11, 2), utc(2026, 11, 2, 14, 30), utc(2026, 11, 2, 21, 0)),  # EST
    ],
)
def test_open_and_close_shift_an_hour_in_utc_across_dst(calendar, day, open_utc, close_utc):
    assert calendar.open_at(day) == open_utc
    assert calendar.close_at(day) == close_utc
    assert calendar.open_at(day).tzinfo == NEW_YORK
    assert calendar.open_at(day).time() == time(9, 30)


def test_closing_call_is_at_1555_market_time(calendar):
    assert calendar.closing_call_at(date(2026, 3, 9)) == utc(2026, 3, 9, 19, 55)


@pytest.mark.parametrize(
    ("now", "monday"),
    [
        (utc(2026, 3, 8, 6, 59), date(2026, 3, 9)),  # 01:59 EST, before clocks spring forward
        (utc(2026, 3, 8, 7, 0), date(2026, 3, 9)),  # 03:00 EDT
        (utc(2026, 11, 1, 5, 30), date(2026, 11, 2)),  # 01:30 EDT, the first time
        (utc(2026, 11, 1, 6, 30), date(2026, 11, 2)),  # 01:30 EST, the second time
        (datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=1), date(2026, 11, 2)),
    ],
)
def test_the_dst_change_instant_is_in_mondays_pre_open(calendar, now, monday):
    assert calendar.session_at(now) == Session(monday, PRE_OPEN)
    assert calendar.next_transition(now) == Transition(
        calendar.open_at(monday), TransitionKind.OPENING_AUCTION
    )


@pytest.mark.parametrize(
    ("friday", "monday", "weekend"),
    [
        (date(2026, 3, 6), date(2026, 3, 9), timedelta(hours=64, minutes=30)),  # an hour lost
        (date(2026, 10, 30), date(2026, 11, 2), timedelta(hours=66, minutes=30)),  # one gained
        (date(2026, 3, 13), date(2026, 3, 16), timedelta(hours=65, minutes=30)),
    ],
)
def test_weekend_lasts_the_real_elapsed_time_across_dst(calendar, friday, monday, weekend):
    # Subtract in UTC: Python subtracts two datetimes of one zone by their wall times.
    elapsed = calendar.open_at(monday).astimezone(UTC) - calendar.close_at(friday).astimezone(UTC)

    assert elapsed == weekend


@pytest.mark.parametrize(
    ("now", "expected_open", "expected_close"),
    [
        (ny(2026, 3, 4, 9, 29), date(2026, 3, 3), date(2026, 3, 3)),
        (ny(2026, 3, 4, 9, 30), date(2026, 3, 4), date(2026, 3, 3)),
        (ny(2026, 3, 4, 15, 59), date(2026, 3, 4), date(2026, 3, 3)),
        (ny(2026, 3, 4, 16, 0), date(2026, 3, 4), date(2026, 3, 4)),
        (ny(2026, 3, 8, 12, 0), date(2026, 3, 6), date(2026, 3, 6)),  # Sunday
        (ny(2026, 3, 9, 9, 0), date(2026, 3, 6), date(2026, 3, 6)),  # Monday morning
        (ny(2026, 7, 3, 12, 0), date(2026, 7, 2), date(2026, 7, 2)),  # holiday
    ],
)
def test_last_open_and_last_close(calendar, now, expected_open, expected_close):
    assert calendar.last_open(now) == expected_open
    assert calendar.last_close(now) == expected_close


def test_last_close_is_none_when_nothing_ever_trades():
    closed = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(-400, 10)]
    calendar = nyse_calendar(holiday_calendars=[], holidays=closed)

    assert calendar.last_close(ny(2026, 1, 5, 12, 0)) is None


def test_next_trading_day_fails_loudly_when_nothing_ever_trades():
    closed = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(400)]
    calendar = nyse_calendar(holiday_calendars=[], holidays=closed)

    with pytest.raises(ValueError, match="no trading day"):
        calendar.next_trading_day(date(2026, 1, 1))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ny(2026, 3, 3, 8, 0), Transition(ny(2026, 3, 3, 9, 30), TransitionKind.OPENING_AUCTION)),
        (ny(2026, 3, 3, 9, 30), Transition(ny(2026, 3, 3, 15, 55), TransitionKind.CLOSING_CALL)),
        (
            ny(2026, 3, 3, 15, 55),
            Transition(ny(2026, 3, 3, 16, 0), TransitionKind.CLOSING_AUCTION),
        ),
        (ny(2026, 3, 3, 16, 0), Transition(ny(2026, 3, 4, 9, 30), TransitionKind.OPENING_AUCTION)),
        (ny(2026, 3, 6, 17, 0), Transition(ny(2026, 3, 9, 9, 30), TransitionKind.OPENING_AUCTION)),
        (ny(2026, 7, 2, 16, 0), Transition(ny(2026, 7, 6, 9, 30), TransitionKind.OPENING_AUCTION)),
    ],
)
def test_next_transition_is_strictly_after_now(calendar, now, expected):
    transition = calendar.next_transition(now)

    assert transition == expected
    assert transition.at > now


def test_next_transition_unpacks_as_when_and_kind(calendar):
    at, kind = calendar.next_transition(ny(2026, 3, 3, 8, 0))

    assert (at, kind) == (ny(2026, 3, 3, 9, 30), "opening_auction")


@pytest.mark.parametrize(
    "method", ["session_at", "last_open", "last_close", "next_transition", "localize"]
)
def test_naive_datetimes_are_refused(calendar, method):
    with pytest.raises(ValueError, match="naive"):
        getattr(calendar, method)(datetime(2026, 3, 3, 10, 0))


def test_a_datetime_is_not_a_trading_date(calendar):
    with pytest.raises(TypeError):
        calendar.is_trading_day(ny(2026, 3, 3, 10, 0))


def test_times_must_be_in_order():
    with pytest.raises(ValueError, match="open_time"):
        nyse_calendar(closing_call_time=time(16, 5))


def test_get_calendar_reads_the_settings_and_is_cached():
    calendar = get_calendar()

    assert calendar is get_calendar()
    assert calendar.tz == NEW_YORK
    assert calendar.open_at(date(2026, 3, 9)) == ny(2026, 3, 9, 9, 30)
    assert calendar.closing_call_at(date(2026, 3, 9)) == ny(2026, 3, 9, 15, 55)
    assert calendar.close_at(date(2026, 3, 9)) == ny(2026, 3, 9, 16, 0)
    assert not calendar.is_trading_day(date(2026, 11, 26))


@pytest.mark.parametrize(
    ("holidays", "day", "is_trading"),
    [
        (["NYSE"], date(2026, 7, 3), False),
        (["nyse"], date(2026, 7, 3), False),
        (["2026-03-10"], date(2026, 3, 10), False),
        (["2026-03-10"], date(2026, 7, 3), True),  # explicit dates alone: no NYSE calendar
        (["NYSE", "2026-03-10"], date(2026, 3, 10), False),
        (["NYSE", "2026-03-10"], date(2026, 7, 3), False),
        ([date(2026, 3, 10)], date(2026, 3, 10), False),
        ([], date(2026, 7, 3), True),
    ],
)
def test_holidays_come_from_the_settings(holidays, day, is_trading):
    with override_settings(MARKET_HOLIDAYS=holidays):
        assert get_calendar().is_trading_day(day) is is_trading


@pytest.mark.parametrize(
    "overrides",
    [
        {"MARKET_HOLIDAYS": ["NOT-A-MARKET"]},
        {"MARKET_OPEN_TIME": "9h30"},
        {"MARKET_CLOSE_TIME": "15:00"},
        {"MARKET_TIME_ZONE": "Mars/Olympus_Mons"},
    ],
)
def test_bad_settings_are_reported_as_misconfiguration(overrides):
    with override_settings(**overrides), pytest.raises(ImproperlyConfigured):
        get_calendar()
