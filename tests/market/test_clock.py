from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from market import clock
from market.calendar import MarketCalendar, Session, SessionPhase, get_calendar
from market.clock import DemoClock

NEW_YORK = ZoneInfo("America/New_York")
# Cycle 0 starts at 14:00 UTC on Friday 2026-03-06 (EST); cycle 1 is Monday 2026-03-09 (EDT).
EPOCH = datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
DEMO = {
    "MARKET_DEMO_DAY_SECONDS": 600,
    "MARKET_DEMO_EPOCH": "2026-03-06T14:00:00+00:00",
    "MARKET_DEMO_START_DATE": "2026-03-06",
}
NYSE = MarketCalendar(
    tz=NEW_YORK,
    open_time=time(9, 30),
    closing_call_time=time(15, 55),
    close_time=time(16, 0),
    holiday_calendars=["NYSE"],
)


def ny(*fields: int) -> datetime:
    """New York wall time: year, month, day[, hour, minute, second]."""
    return datetime(*fields, tzinfo=NEW_YORK)


def real(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def clear_clock_caches() -> None:
    get_calendar.cache_clear()
    clock.demo_epoch.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_clock() -> Iterator[None]:
    clear_clock_caches()
    yield
    clear_clock_caches()


@pytest.fixture
def demo() -> Iterator[None]:
    with override_settings(**DEMO):
        yield


def virtual_now_at(real_at: datetime) -> datetime:
    with time_machine.travel(real_at, tick=False):
        return clock.now()


@override_settings(MARKET_DEMO_DAY_SECONDS=0)
def test_real_clock_is_the_wall_clock_in_market_time():
    with time_machine.travel(datetime(2026, 3, 9, 14, 0, tzinfo=UTC), tick=False):
        now = clock.now()

    assert not clock.is_demo()
    assert now == ny(2026, 3, 9, 10, 0)
    assert now.tzinfo == NEW_YORK


@override_settings(MARKET_DEMO_DAY_SECONDS=0)
def test_real_clock_to_real_is_the_identity():
    assert clock.to_real(ny(2026, 3, 9, 9, 30)) == ny(2026, 3, 9, 9, 30)


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize(
    ("real_at", "expected"),
    [
        (real(0), ny(2026, 3, 6, 9, 20)),  # start of the cycle: pre-open
        (real(30), ny(2026, 3, 6, 9, 25)),
        (real(60), ny(2026, 3, 6, 9, 30)),  # 10%: the opening auction
        (real(285), ny(2026, 3, 6, 12, 42, 30)),  # halfway through continuous trading
        (real(510), ny(2026, 3, 6, 15, 55)),  # 85%: the closing call
        (real(540), ny(2026, 3, 6, 15, 57, 30)),
        (real(570), ny(2026, 3, 6, 16, 0)),  # 95%: the closing auction
        (real(585), ny(2026, 3, 8, 0, 10)),  # halfway through the weekend (EST)
        (real(600), ny(2026, 3, 9, 9, 20)),  # the next cycle is Monday (EDT)
        (real(660), ny(2026, 3, 9, 9, 30)),
        (real(-15), ny(2026, 3, 6, 0, 40)),  # before the epoch: Thursday's night
    ],
)
def test_demo_cycle_is_one_compressed_trading_day(real_at, expected):
    virtual = virtual_now_at(real_at)

    assert clock.is_demo()
    assert virtual == expected
    assert virtual.tzinfo == NEW_YORK


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize(
    ("real_at", "expected"),
    [
        (real(0), Session(date(2026, 3, 6), SessionPhase.PRE_OPEN)),
        (real(59), Session(date(2026, 3, 6), SessionPhase.PRE_OPEN)),
        (real(60), Session(date(2026, 3, 6), SessionPhase.CONTINUOUS)),
        (real(509), Session(date(2026, 3, 6), SessionPhase.CONTINUOUS)),
        (real(510), Session(date(2026, 3, 6), SessionPhase.CLOSING_CALL)),
        (real(569), Session(date(2026, 3, 6), SessionPhase.CLOSING_CALL)),
        (real(570), Session(date(2026, 3, 9), SessionPhase.PRE_OPEN)),
        (real(660), Session(date(2026, 3, 9), SessionPhase.CONTINUOUS)),
    ],
)
def test_demo_clock_walks_the_calendar_phases(real_at, expected):
    assert get_calendar().session_at(virtual_now_at(real_at)) == expected


@pytest.mark.parametrize(
    ("start_date", "cycle", "expected"),
    [
        (date(2026, 3, 6), 1, date(2026, 3, 9)),  # over a weekend
        (date(2026, 3, 6), 5, date(2026, 3, 13)),
        (date(2026, 3, 6), -1, date(2026, 3, 5)),
        (date(2026, 7, 2), 1, date(2026, 7, 6)),  # over Independence Day and a weekend
        (date(2026, 11, 25), 1, date(2026, 11, 27)),  # over Thanksgiving
    ],
)
def test_consecutive_demo_cycles_are_consecutive_trading_days(start_date, cycle, expected):
    demo_clock = DemoClock(calendar=NYSE, day_seconds=600, epoch_at=EPOCH, start_date=start_date)

    assert demo_clock.cycle_date(cycle) == expected


def test_demo_start_date_on_a_weekend_starts_on_the_next_trading_day():
    with override_settings(**{**DEMO, "MARKET_DEMO_START_DATE": "2026-03-07"}):
        assert virtual_now_at(real(0)) == ny(2026, 3, 9, 9, 20)


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize(
    ("virtual", "expected"),
    [
        (ny(2026, 3, 6, 9, 20), real(0)),
        (ny(2026, 3, 6, 9, 30), real(60)),
        (ny(2026, 3, 6, 15, 55), real(510)),
        (ny(2026, 3, 6, 16, 0), real(570)),
        # Saturday noon is 1200 of the weekend's 3860 minutes, rounded up to the microsecond.
        (ny(2026, 3, 7, 12, 0), real(570) + timedelta(microseconds=9_326_425)),
        (ny(2026, 3, 9, 9, 30), real(660)),
    ],
)
def test_to_real_schedules_the_transitions(virtual, expected):
    assert clock.to_real(virtual) == expected


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize("seconds", [0, 1, 59.5, 60, 123.456789, 509.9, 575, 599.999, 3_600, -1])
def test_to_real_inverts_the_demo_now_within_a_second(seconds):
    real_at = real(seconds)

    assert abs(clock.to_real(virtual_now_at(real_at)) - real_at) < timedelta(seconds=1)


@pytest.mark.usefixtures("demo")
def test_naive_virtual_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        clock.to_real(datetime(2026, 3, 6, 9, 30))


@override_settings(MARKET_DEMO_DAY_SECONDS=600, MARKET_DEMO_EPOCH="", MARKET_DEMO_START_DATE="")
def test_default_demo_epoch_is_today_at_midnight_utc_and_kept_for_the_process():
    with time_machine.travel(datetime(2026, 3, 10, 15, 0, tzinfo=UTC), tick=False):
        first = clock.demo_epoch()
    with time_machine.travel(datetime(2026, 3, 11, 1, 0, tzinfo=UTC), tick=False):
        later = clock.demo_epoch()

    assert first == (datetime(2026, 3, 10, tzinfo=UTC), date(2026, 3, 10))
    assert later == first


@override_settings(MARKET_DEMO_EPOCH="2026-03-02T09:00:00-05:00", MARKET_DEMO_START_DATE="")
def test_demo_start_date_defaults_to_the_epochs_utc_date():
    assert clock.demo_epoch() == (datetime(2026, 3, 2, 14, 0, tzinfo=UTC), date(2026, 3, 2))


@pytest.mark.parametrize(
    "overrides",
    [
        {"MARKET_DEMO_EPOCH": "2026-03-02T00:00:00"},  # naive
        {"MARKET_DEMO_EPOCH": "yesterday"},
        {"MARKET_DEMO_START_DATE": "2026-02-30"},
    ],
)
def test_bad_demo_epoch_settings_are_reported_as_misconfiguration(overrides):
    with override_settings(**overrides), pytest.raises(ImproperlyConfigured):
        clock.demo_epoch()


# Hypothesis: the pure DemoClock, over a few days of real time either side of the epoch.
day_lengths = st.sampled_from([60, 600, 601, 3_600, 86_400])
real_offsets = st.integers(min_value=-3 * 86_400_000_000, max_value=3 * 86_400_000_000)


@given(day_seconds=day_lengths, first=real_offsets, second=real_offsets)
def test_demo_virtual_time_never_goes_backward(day_seconds, first, second):
    demo_clock = DemoClock(
        calendar=NYSE, day_seconds=day_seconds, epoch_at=EPOCH, start_date=date(2026, 3, 6)
    )
    earlier, later = sorted([first, second])

    assert demo_clock.to_virtual(EPOCH + timedelta(microseconds=earlier)) <= demo_clock.to_virtual(
        EPOCH + timedelta(microseconds=later)
    )


@given(day_seconds=day_lengths, offset=real_offsets)
def test_demo_to_real_inverts_to_virtual(day_seconds, offset):
    demo_clock = DemoClock(
        calendar=NYSE, day_seconds=day_seconds, epoch_at=EPOCH, start_date=date(2026, 3, 6)
    )
    real_at = EPOCH + timedelta(microseconds=offset)
    virtual = demo_clock.to_virtual(real_at)
    scheduled = demo_clock.to_real(virtual)

    assert abs(scheduled - real_at) < timedelta(seconds=1)
    assert demo_clock.to_virtual(scheduled) >= virtual
