"""The nightly rollup (MARKET_RULES 7): each trading day's P&L per user, the leaderboard's ranks,
win streaks and badges, frozen once written (docs/pnl-and-leaderboard.md).

`rollup_run()` runs after the closing auctions (the nightly task, and safely any time: it is
idempotent). It computes every trading day not yet rolled up, in order, from the day after the
last run (the first ever run starts at the first instrument's first trading day), at most
`MARKET_ROLLUP_MAX_DAYS` (default 30) days per call: the next call goes on from there. Each day
is written in its own transaction, so a long catch-up keeps what it has done.

Each day is computed from the immutable history (`market.leaderboard.activity_between`:
trades, ledger entries and listings) and the previous day's frozen results, themselves computed
from it; never from the current balances, so a day caught up late gets the same result as if
it had been rolled up that night.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Model, OuterRef
from django.utils import timezone

from market import clock
from market.calendar import get_calendar
from market.leaderboard import (
    Activity,
    ClosingState,
    DayLine,
    activity_between,
    closing_state,
    cutoff_at,
    rank_lines,
)
from market.models import (
    AuctionKind,
    AuctionRecord,
    CashAccount,
    CashAccountKind,
    Instrument,
    InstrumentStatus,
)
from market.money import ZERO
from market.rollup_models import ONCE_BADGES, Badge, BadgeKind, DailyResult, RollupRun

logger = logging.getLogger(__name__)

DEFAULT_MAX_DAYS = 30
# A contribution's ledger entry carries the instant its transaction began; one that began just
# before the close may commit just after it. The rollup of a day waits this long after its close.
SETTLE = timedelta(seconds=5)
BATCH_SIZE = 5_000
TOP_FINISH = 10
STREAK_BADGES = ((10, BadgeKind.STREAK_10), (5, BadgeKind.STREAK_5))
AUCTION_REGULAR_AUCTIONS = 5


def rollup_run(*, trading_date: date | None = None) -> list[RollupRun]:
    """Roll up every trading day not yet rolled up, in order, up to `trading_date` (default:
    the last closed trading day). Returns the runs written by this call (none when up to date).

    The last closed day waits until its closing auctions have all run (every active instrument
    trading by then has its closing auction record) and its close has settled; days before it
    are final. Locks: none. Two workers at once: the unique run per date lets one write a day;
    the other stops there, having written nothing for that day."""
    calendar = get_calendar()
    last_closed = calendar.last_close(clock.now())
    if trading_date is not None and (
        not calendar.is_trading_day(trading_date)
        or last_closed is None
        or trading_date > last_closed
    ):
        raise ValueError(f"{trading_date} is not a closed trading day")
    target = trading_date or last_closed
    if target is None:
        return []
    if target == last_closed and not _close_settled(target):
        logger.info("rollup of %s waits for its closing auctions", target)
        target = calendar.previous_trading_day(target)
    days = _days_to_roll_up(through=target)
    if not days:
        return []
    written: list[RollupRun] = []
    milestones = set(
        Badge.objects.filter(kind__in=ONCE_BADGES)
        .order_by()
        .values_list("user_id", "kind")
        .distinct()
    )
    state, before = _state_at_close(calendar.previous_trading_day(days[0]), milestones)
    for day in days:
        started_at = timezone.now()
        activity = activity_between(state.day, day)
        traded_before = set(state.traded)
        state.advance(activity)
        lines = _day_lines(state, activity, before)
        badges = _badges(lines, activity, traded_before, milestones)
        run = _write(day, lines, badges, started_at=started_at)
        if run is None:
            logger.info("rollup of %s was written by another worker: stopping here", day)
            break
        written.append(run)
        milestones.update(badges)
        before = {line.user_id: (line.equity_close_amount, line.streak) for line in lines}
        logger.info("rolled up %s: %s results, %s badges", day, len(lines), len(badges))
    return written


def _state_at_close(
    day: date, milestones: set[tuple[int, str]]
) -> tuple[ClosingState, dict[int, tuple[Decimal, int]]]:
    """Everyone's holdings at `day`'s close, and each user's (equity, streak) then. A frozen
    day gives its cash, equity, streak and auction count (and its first-trade badges say who
    has traded): only the shares are rebuilt from the trades. Otherwise (the first run) all of
    it comes from the history, and streaks start at 0."""
    frozen = list(
        DailyResult.objects.filter(trading_date=day).values_list(
            "user_id", "cash_amount", "equity_close_amount", "streak", "auctions_taken_part"
        )
    )
    if not frozen and not RollupRun.objects.filter(trading_date=day).exists():
        state = closing_state(day)
        return state, {user_id: (equity, 0) for user_id, equity in state.equities().items()}
    state = ClosingState(day=None)
    state.advance(activity_between(None, day, with_cash=False))
    state.cash = {user_id: cash for user_id, cash, _, _, _ in frozen}
    state.auctions_count = {user_id: count for user_id, _, _, _, count in frozen if count}
    state.traded = {user_id for user_id, kind in milestones if kind == BadgeKind.FIRST_TRADE}
    return state, {user_id: (equity, streak) for user_id, _, equity, streak, _ in frozen}


def _close_settled(day: date) -> bool:
    if timezone.now() < cutoff_at(day) + SETTLE:
        return False
    pending = (
        Instrument.objects.filter(status=InstrumentStatus.ACTIVE, first_trading_date__lte=day)
        .annotate(
            closed=Exists(
                AuctionRecord.objects.filter(
                    instrument=OuterRef("pk"), trading_date=day, kind=AuctionKind.CLOSING
                )
            )
        )
        .filter(closed=False)
    )
    return not pending.exists()


def _days_to_roll_up(*, through: date) -> list[date]:
    """The trading days after the last run up to `through`, oldest first, at most the limit."""
    calendar = get_calendar()
    last = RollupRun.objects.order_by("-trading_date").values_list("trading_date", flat=True)
    last_run = last.first()
    if last_run is not None:
        day = calendar.next_trading_day(last_run)
    else:
        first = (
            Instrument.objects.order_by("first_trading_date")
            .values_list("first_trading_date", flat=True)
            .first()
        )
        day = first if first is not None else through
        if not calendar.is_trading_day(day):
            day = calendar.next_trading_day(day)
    limit = max(1, int(getattr(settings, "MARKET_ROLLUP_MAX_DAYS", DEFAULT_MAX_DAYS)))
    days: list[date] = []
    while day <= through and len(days) < limit:
        days.append(day)
        day = calendar.next_trading_day(day)
    return days


def _day_lines(
    state: ClosingState, activity: Activity, before: dict[int, tuple[Decimal, int]]
) -> list[DayLine]:
    """Every user's ranked line for the day `state` has just closed: every user with a cash
    account opened by the close, and anyone else the history names."""
    day = activity.through
    values = state.positions_values()
    contributions = activity.contributions()
    accounts = CashAccount.objects.filter(kind=CashAccountKind.USER, created_at__lte=cutoff_at(day))
    users = {user_id for user_id in accounts.values_list("user_id", flat=True) if user_id}
    users |= set(state.cash) | set(values) | set(before) | set(contributions)
    trades = activity.trades
    return rank_lines(
        DayLine(
            user_id=user_id,
            cash_amount=state.cash.get(user_id, ZERO),
            positions_amount=values.get(user_id, ZERO),
            equity_previous_amount=before.get(user_id, (ZERO, 0))[0],
            contributions_amount=contributions.get(user_id, ZERO),
            streak_before=before.get(user_id, (ZERO, 0))[1],
            first_trade_at=trades.first_trade_at.get(user_id),
            trades_count=trades.count.get(user_id, 0),
            resting_volume_filled=trades.resting_volume.get(user_id, 0),
            auctions_taken_part=state.auctions_count.get(user_id, 0),
        )
        for user_id in users
    )


def _badges(
    lines: list[DayLine],
    activity: Activity,
    traded_before: set[int],
    milestones: set[tuple[int, str]],
) -> list[tuple[int, str]]:
    """The (user, badge) pairs the day earned: conduct, not churn (docs/pnl-and-leaderboard.md).
    `lines` are in rank order."""
    earned: set[tuple[int, str]] = set()
    for user_id in activity.trades.count:
        if user_id not in traded_before:
            earned.add((user_id, BadgeKind.FIRST_TRADE.value))
    for line in lines[:TOP_FINISH]:
        if line.pnl_amount > 0:
            earned.add((line.user_id, BadgeKind.TOP_10.value))
    most_resting = max((line.resting_volume_filled for line in lines), default=0)
    for line in lines:
        if most_resting > 0 and line.resting_volume_filled == most_resting:
            earned.add((line.user_id, BadgeKind.LIQUIDITY_PROVIDER.value))
        for days, kind in STREAK_BADGES:
            if line.streak >= days:
                earned.add((line.user_id, kind.value))
        if line.auctions_taken_part >= AUCTION_REGULAR_AUCTIONS:
            earned.add((line.user_id, BadgeKind.AUCTION_REGULAR.value))
    return sorted(
        (user_id, kind)
        for user_id, kind in earned
        if kind not in ONCE_BADGES or (user_id, kind) not in milestones
    )


def _write(
    day: date, lines: list[DayLine], badges: list[tuple[int, str]], *, started_at: datetime
) -> RollupRun | None:
    """Freeze one day: the run first (its unique date is the mutex), then its rows, in one
    transaction; on PostgreSQL with COPY. None if another worker wrote the day first."""
    try:
        with transaction.atomic(durable=True):
            run = RollupRun.objects.create(
                trading_date=day,
                results_count=len(lines),
                badges_count=len(badges),
                started_at=started_at,
                written_at=timezone.now(),
            )
            results = (
                (
                    run.pk,
                    line.user_id,
                    day,
                    line.cash_amount,
                    line.positions_amount,
                    line.equity_close_amount,
                    line.equity_previous_amount,
                    line.contributions_amount,
                    line.pnl_amount,
                    line.pnl_percent,
                    line.rank,
                    line.streak,
                    line.first_trade_at,
                    line.trades_count,
                    line.resting_volume_filled,
                    line.auctions_taken_part,
                )
                for line in lines
            )
            _insert(DailyResult, RESULT_FIELDS, results)
            _insert(Badge, BADGE_FIELDS, ((user, kind, day, run.pk) for user, kind in badges))
    except IntegrityError:
        if RollupRun.objects.filter(trading_date=day).exists():
            return None
        raise
    return run


RESULT_FIELDS = (
    "run_id",
    "user_id",
    "trading_date",
    "cash_amount",
    "positions_amount",
    "equity_close_amount",
    "equity_previous_amount",
    "contributions_amount",
    "pnl_amount",
    "pnl_percent",
    "rank",
    "streak",
    "first_trade_at",
    "trades_count",
    "resting_volume_filled",
    "auctions_taken_part",
)
BADGE_FIELDS = ("user_id", "kind", "trading_date", "run_id")


def _insert(model: type[Model], fields: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """Insert new rows of `fields` (attribute names): COPY on PostgreSQL, bulk_create elsewhere.
    Inserts only: the immutable models refuse updates, not new rows."""
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            (model(**dict(zip(fields, row, strict=True))) for row in rows), batch_size=BATCH_SIZE
        )
        return
    column_of = {field.attname: field.column for field in model._meta.concrete_fields}
    columns = ", ".join(column_of[name] for name in fields)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            chunk: list[str] = []
            for row in rows:
                chunk.append("\t".join(_copy_text(value) for value in row))
                if len(chunk) == BATCH_SIZE:
                    copy.write("\n".join(chunk) + "\n")
                    chunk.clear()
            if chunk:
                copy.write("\n".join(chunk) + "\n")


def _copy_text(value: object) -> str:
    """A value in COPY's text format; the values here hold no tab, newline or backslash."""
    return COPY_FORMATS.get(type(value), str)(value)


COPY_FORMATS: dict[type, Callable[[Any], str]] = {
    type(None): lambda value: "\\N",
    Decimal: lambda value: format(value, "f"),
    datetime: datetime.isoformat,
    date: date.isoformat,
}
