"""The nightly rollup: streaks over closed days, badges, catch-up, idempotence, frozen rows."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from market.leaderboard import DayLine, rank_lines
from market.models import ImmutableRecord
from market.rollup_models import Badge, BadgeKind, DailyResult, RollupRun
from market.services import rollups
from market.services.auctions import market_catch_up
from market.services.rollups import rollup_run
from tests.market.conftest import TRADING_DAY
from tests.market.rollups.conftest import (
    FRIDAY,
    MONDAY,
    NEXT_MONDAY,
    NEXT_TUESDAY,
    THANKSGIVING,
    TUESDAY,
    WEEK,
    place,
)

pytestmark = pytest.mark.django_db


def streaks(user):
    return list(
        DailyResult.objects.filter(user=user)
        .order_by("trading_date")
        .values_list("trading_date", "streak")
    )


def badges(user):
    return list(Badge.objects.filter(user=user).order_by("pk").values_list("kind", "trading_date"))


def test_streak_counts_trading_days_only_across_a_weekend_and_thanksgiving(thanksgiving_week):
    runs = rollup_run()

    assert [run.trading_date for run in runs] == WEEK
    assert not DailyResult.objects.filter(trading_date=THANKSGIVING).exists()
    assert streaks(thanksgiving_week.holder) == [(day, n) for n, day in enumerate(WEEK, start=1)]
    assert (BadgeKind.STREAK_5, NEXT_MONDAY) in badges(thanksgiving_week.holder)


def test_a_losing_day_breaks_the_streak(thanksgiving_week, trade_in_opening_auction):
    week = thanksgiving_week
    trade_in_opening_auction(
        NEXT_TUESDAY, week.instrument, week.first_buyer, week.second_buyer, 1, "99.00"
    )

    rollup_run()

    holder_tuesday = DailyResult.objects.get(user=week.holder, trading_date=NEXT_TUESDAY)
    assert holder_tuesday.pnl_amount == Decimal("990") * Decimal("-6.00")
    assert holder_tuesday.streak == 0


def test_badges_reward_first_trade_top_finish_and_auction_regulars_once(thanksgiving_week):
    week = thanksgiving_week

    rollup_run()

    # the first buyer traded in five opening auctions, one a day: an auction regular on the 5th
    assert badges(week.first_buyer)[0] == (BadgeKind.FIRST_TRADE, MONDAY)
    assert (BadgeKind.AUCTION_REGULAR, NEXT_MONDAY) in badges(week.first_buyer)
    assert (BadgeKind.FIRST_TRADE, TUESDAY) in badges(week.second_buyer)
    assert BadgeKind.AUCTION_REGULAR not in {kind for kind, _ in badges(week.second_buyer)}
    # milestones once; a top-10 finish with a positive P&L on every day the holder gained
    holder_kinds = [kind for kind, _ in badges(week.holder)]
    assert holder_kinds.count(BadgeKind.FIRST_TRADE) == 1
    assert holder_kinds.count(BadgeKind.TOP_10) == len(WEEK)
    assert BadgeKind.LIQUIDITY_PROVIDER not in holder_kinds  # auctions have no resting side


def test_liquidity_provider_is_the_most_resting_volume_filled(
    continuous_instrument, make_trader, travel
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    taker = make_trader(cash="10000.00")
    small_maker = make_trader(cash="10000.00")
    place(owner, instrument, "sell", 30, "100.00")
    place(taker, instrument, "buy", 30, "100.00")
    place(small_maker, instrument, "buy", 5, "99.00")
    place(owner, instrument, "sell", 5, "99.00")
    travel("16:01")
    market_catch_up()

    rollup_run()

    resting = dict(
        DailyResult.objects.filter(trading_date=TRADING_DAY).values_list(
            "user_id", "resting_volume_filled"
        )
    )
    assert (resting[owner.pk], resting[small_maker.pk], resting[taker.pk]) == (30, 5, 0)
    assert list(
        Badge.objects.filter(kind=BadgeKind.LIQUIDITY_PROVIDER).values_list("user_id", flat=True)
    ) == [owner.pk]


def at(hhmm: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-18T{hhmm}:00+00:00").astimezone(UTC)


@pytest.mark.parametrize(
    ("lines", "expected_order"),
    [
        pytest.param(
            [
                DayLine(1, Decimal("100.00"), Decimal("0"), Decimal("0"), Decimal("0")),
                DayLine(2, Decimal("150.00"), Decimal("0"), Decimal("0"), Decimal("0")),
            ],
            [2, 1],
            id="higher-pnl-first",
        ),
        pytest.param(
            [
                DayLine(1, Decimal("1100.00"), Decimal("0"), Decimal("1000.00"), Decimal("0")),
                DayLine(2, Decimal("600.00"), Decimal("0"), Decimal("500.00"), Decimal("0")),
            ],
            [2, 1],
            id="same-pnl-higher-percent-first",
        ),
        pytest.param(
            [
                DayLine(
                    1,
                    Decimal("110.00"),
                    Decimal("0"),
                    Decimal("100.00"),
                    Decimal("0"),
                    first_trade_at=at("15:00"),
                ),
                DayLine(
                    2,
                    Decimal("110.00"),
                    Decimal("0"),
                    Decimal("100.00"),
                    Decimal("0"),
                    first_trade_at=at("14:30"),
                ),
                DayLine(3, Decimal("110.00"), Decimal("0"), Decimal("100.00"), Decimal("0")),
            ],
            [2, 1, 3],
            id="same-pnl-and-percent-earlier-first-trade-first-no-trade-last",
        ),
        pytest.param(
            [
                DayLine(7, Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0")),
                DayLine(3, Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0")),
            ],
            [3, 7],
            id="then-user-id",
        ),
    ],
)
def test_ranking_tie_breaks(lines, expected_order):
    ranked = rank_lines(lines)

    assert [line.user_id for line in ranked] == expected_order
    assert [line.rank for line in ranked] == list(range(1, len(lines) + 1))


def test_rerunning_the_rollup_changes_nothing(thanksgiving_week):
    rollup_run()
    before = list(DailyResult.objects.order_by("pk").values())
    badges_before = list(Badge.objects.order_by("pk").values())

    again = rollup_run()
    explicit = rollup_run(trading_date=FRIDAY)

    assert (again, explicit) == ([], [])
    assert list(DailyResult.objects.order_by("pk").values()) == before
    assert list(Badge.objects.order_by("pk").values()) == badges_before


def test_results_are_frozen(thanksgiving_week):
    rollup_run()
    line = DailyResult.objects.first()

    line.pnl_amount = Decimal("1000000.00")
    with pytest.raises(ImmutableRecord):
        line.save()
    with pytest.raises(ImmutableRecord):
        DailyResult.objects.filter(pk=line.pk).update(streak=99)
    with pytest.raises(ImmutableRecord):
        RollupRun.objects.all().delete()


def test_catch_up_is_bounded_and_goes_on_in_order(thanksgiving_week, settings):
    settings.MARKET_ROLLUP_MAX_DAYS = 2

    first = rollup_run()
    second = rollup_run()
    third = rollup_run()

    assert [[run.trading_date for run in runs] for runs in (first, second, third)] == [
        WEEK[:2],
        WEEK[2:4],
        WEEK[4:],
    ]
    assert streaks(thanksgiving_week.holder)[-1] == (NEXT_MONDAY, 5)
    # what the earlier calls froze carries over: auctions counted, first trades not repeated
    first_buyer_badges = badges(thanksgiving_week.first_buyer)
    assert (BadgeKind.AUCTION_REGULAR, NEXT_MONDAY) in first_buyer_badges
    assert [kind for kind, _ in first_buyer_badges].count(BadgeKind.FIRST_TRADE) == 1


def test_rollup_waits_for_the_closing_auctions(listed_instrument_at_the_close, travel):
    travel("16:01")

    waiting = rollup_run()
    market_catch_up()
    done = rollup_run()

    assert waiting == []
    assert [run.trading_date for run in done] == [TRADING_DAY]


def test_a_day_still_open_cannot_be_rolled_up(listed_instrument_at_the_close, travel):
    travel("15:00")

    with pytest.raises(ValueError, match="not a closed trading day"):
        rollup_run(trading_date=TRADING_DAY)


@pytest.fixture
def listed_instrument_at_the_close(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    buyer = make_trader(cash="10000.00")
    place(instrument.vehicle.owner, instrument, "sell", 10, "101.00")
    place(buyer, instrument, "buy", 10, "101.00")
    return instrument


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_rolling_up_at_once_write_each_day_once(thanksgiving_week, monkeypatch):
    write = rollups._write
    both_computed = threading.Barrier(2)
    first_write = threading.local()

    def write_together(*args, **kwargs):
        if not getattr(first_write, "done", False):
            first_write.done = True
            both_computed.wait(timeout=30)
        return write(*args, **kwargs)

    monkeypatch.setattr(rollups, "_write", write_together)
    written: list[list[RollupRun]] = []

    def worker():
        try:
            written.append(rollup_run())
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)

    assert sorted(len(runs) for runs in written) == [0, len(WEEK)]
    assert (
        list(RollupRun.objects.order_by("trading_date").values_list("trading_date", flat=True))
        == WEEK
    )
    assert DailyResult.objects.count() == len(WEEK) * 3
