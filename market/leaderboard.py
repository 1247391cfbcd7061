"""Reads for daily P&L and the leaderboard (MARKET_RULES 7; docs/pnl-and-leaderboard.md).

Equity = cash balance (reservations included) + positions marked. Daily P&L = equity at the
close - equity at the previous close - the day's net contributions (deposits, withdrawals,
operator adjustments, and listings valued at total_shares x listing_price).

Two ways to know a user's equity:

- now (`equity_of`, the intraday board): the stored balances and positions, marked at each
  instrument's reference price;
- at a past close (`closing_state`, the rollup): from the immutable history alone. Trades
  belong to their `trading_date`; contributions to the first close at or after their ledger
  entry (`cutoff_at`); a listing to its instrument's `first_trading_date`, from which on the
  owner holds its shares (before that the instrument is not part of anyone's equity, and its
  shares, worth exactly the contribution, cannot trade). A day's closing mark is the last trade
  of that trading date or before it, else the listing price.

Money is summed exactly: in SQL on PostgreSQL, in Python on SQLite (which sums decimals as
floats).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery, Sum

from accounts.models import User
from config.errors import NotFound
from market import clock
from market.calendar import get_calendar
from market.models import (
    CONTRIBUTION_KINDS,
    CashAccount,
    CashAccountKind,
    Instrument,
    LedgerEntry,
    LedgerKind,
    Position,
    Side,
    Trade,
)
from market.money import ZERO, cents
from market.rollup_models import Badge, BadgeKind, DailyResult, RollupRun

LEADERBOARD_SIZE = 50
PERCENT_PLACES = Decimal("0.01")
# Sorts users without a trade that day after everyone who traded.
NEVER = datetime.max.replace(tzinfo=UTC)
BADGE_ORDER = {kind.value: position for position, kind in enumerate(BadgeKind)}


class LeaderboardNotFound(NotFound):
    code = "leaderboard_not_found"
    default_detail = "There is no leaderboard for {trading_date}: that day has no frozen result."


# --- the board --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaderboardEntry:
    rank: int
    user_id: int
    display_name: str
    pnl_amount: Decimal
    pnl_percent: Decimal
    streak: int
    badges: tuple[str, ...]


@dataclass(frozen=True)
class Leaderboard:
    trading_date: date
    # True once the nightly rollup has frozen the day; False for the live intraday board.
    is_final: bool
    entries: list[LeaderboardEntry]
    me: LeaderboardEntry | None


def board_date(now: datetime | None = None) -> date | None:
    """The day the live board is about: the latest trading day whose opening time has come,
    so that after the close and until the next open it still shows the day just closed."""
    return get_calendar().last_open(now or clock.now())


def leaderboard_get(user: Any, date: date | None = None) -> Leaderboard:
    """The day's top 50 by daily P&L and the user's own row (`me`, rank included, also outside
    the top). A day the rollup has frozen is read from its results: 4 queries (3 when the
    user is in the top). Today's board, before it is frozen, is computed live from the current
    balances, positions and reference prices (`live_results`). Any other day: not found."""
    today = board_date()
    day = date or today
    if day is None:
        raise LeaderboardNotFound(trading_date="today")
    frozen = RollupRun.objects.filter(trading_date=day).exists()
    if frozen:
        return _frozen_board(user, day)
    if day != today:
        raise LeaderboardNotFound(trading_date=day.isoformat(), field="date")
    return _live_board(user, day)


def _frozen_board(user: Any, day: date) -> Leaderboard:
    results = DailyResult.objects.filter(trading_date=day).select_related("user")
    top = list(results.order_by("rank")[:LEADERBOARD_SIZE])
    mine = next((result for result in top if result.user_id == user.pk), None)
    if mine is None:
        mine = results.filter(user_id=user.pk).first()
    shown = [*top, *([mine] if mine is not None and mine not in top else [])]
    badges = _badges_through(day, {result.user_id for result in shown})

    def entry(result: DailyResult) -> LeaderboardEntry:
        return LeaderboardEntry(
            rank=result.rank,
            user_id=result.user_id,
            display_name=result.user.public_name,
            pnl_amount=result.pnl_amount,
            pnl_percent=result.pnl_percent,
            streak=result.streak,
            badges=badges.get(result.user_id, ()),
        )

    return Leaderboard(
        trading_date=day,
        is_final=True,
        entries=[entry(result) for result in top],
        me=entry(mine) if mine is not None else None,
    )


def _live_board(user: Any, day: date) -> Leaderboard:
    lines = _cached_live_results(day)
    top = lines[:LEADERBOARD_SIZE]
    mine = next((line for line in lines if line.user_id == user.pk), None)
    shown = {line.user_id for line in top} | ({mine.user_id} if mine is not None else set())
    names = {
        pk: display_name or username
        for pk, display_name, username in User.objects.filter(pk__in=shown).values_list(
            "pk", "display_name", "username"
        )
    }
    badges = _badges_through(day, shown)

    def entry(line: DayLine) -> LeaderboardEntry:
        return LeaderboardEntry(
            rank=line.rank,
            user_id=line.user_id,
            display_name=names.get(line.user_id, ""),
            pnl_amount=line.pnl_amount,
            pnl_percent=line.pnl_percent,
            streak=line.streak,
            badges=badges.get(line.user_id, ()),
        )

    return Leaderboard(
        trading_date=day,
        is_final=False,
        entries=[entry(line) for line in top],
        me=entry(mine) if mine is not None else None,
    )


def _badges_through(day: date, user_ids: set[int]) -> dict[int, tuple[str, ...]]:
    """Each user's badge kinds earned up to and including `day`, each kind once: 1 query."""
    kinds: dict[int, set[str]] = defaultdict(set)
    if user_ids:
        for user_id, kind in Badge.objects.filter(
            user_id__in=user_ids, trading_date__lte=day
        ).values_list("user_id", "kind"):
            kinds[user_id].add(kind)
    return {
        user_id: tuple(sorted(found, key=lambda kind: BADGE_ORDER.get(kind, len(BADGE_ORDER))))
        for user_id, found in kinds.items()
    }


# --- one user's day, and the ranking ---------------------------------------------------------


@dataclass(slots=True)
class DayLine:
    """One user's result for one trading day. The P&L, its percentage and the streak are
    worked out once, when the line is made; `rank_lines` sets the rank (0: not ranked yet)."""

    user_id: int
    cash_amount: Decimal
    positions_amount: Decimal
    equity_previous_amount: Decimal
    contributions_amount: Decimal
    streak_before: int = 0
    first_trade_at: datetime | None = None
    trades_count: int = 0
    resting_volume_filled: int = 0
    auctions_taken_part: int = 0
    rank: int = 0
    equity_close_amount: Decimal = field(init=False)
    pnl_amount: Decimal = field(init=False)
    pnl_percent: Decimal = field(init=False)
    # Consecutive trading days with a positive P&L, this one included.
    streak: int = field(init=False)

    def __post_init__(self) -> None:
        self.equity_close_amount = self.cash_amount + self.positions_amount
        self.pnl_amount = (
            self.equity_close_amount - self.equity_previous_amount - self.contributions_amount
        )
        self.pnl_percent = pnl_percent(
            self.pnl_amount, self.equity_previous_amount, self.contributions_amount
        )
        self.streak = self.streak_before + 1 if self.pnl_amount > 0 else 0


def pnl_percent(pnl: Decimal, equity_previous: Decimal, contributions: Decimal) -> Decimal:
    """P&L as a percentage of the capital at work that day: the previous close's equity plus
    the day's money in (money taken out does not shrink the base). 0 when that base is not
    positive. Rounded half-up to 0.01 (2.61 means 2.61 %)."""
    base = equity_previous + max(contributions, ZERO)
    if base <= 0:
        return ZERO
    return (pnl * 100 / base).quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)


def rank_key(line: DayLine) -> tuple[Decimal, Decimal, datetime, int]:
    """Higher P&L first; ties: higher P&L %, then the earlier first trade of the day (users who
    did not trade come after those who did), then the user id."""
    return (-line.pnl_amount, -line.pnl_percent, line.first_trade_at or NEVER, line.user_id)


def rank_lines(lines: Iterable[DayLine]) -> list[DayLine]:
    """The lines in leaderboard order, ranked 1, 2, 3 ... (the tie-breaks make ranks unique)."""
    ordered = sorted(lines, key=rank_key)
    for rank, line in enumerate(ordered, start=1):
        line.rank = rank
    return ordered


# --- equity now -------------------------------------------------------------------------------


def equity_of(user_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """Each user's equity now: cash balance (reservations included) plus every position marked
    at its instrument's reference price. In bulk: 2 queries whatever the number of users; every
    user with a cash account or a position when `user_ids` is None."""
    accounts = CashAccount.objects.all()
    positions = Position.objects.all()
    if user_ids is not None:
        wanted = set(user_ids)
        accounts = accounts.filter(user_id__in=wanted)
        positions = positions.filter(user_id__in=wanted)
    cash = _cash_balances(accounts)
    values = _positions_value(positions)
    users = set(cash) | set(values) if user_ids is None else wanted
    return {user_id: cash.get(user_id, ZERO) + values.get(user_id, ZERO) for user_id in users}


def _cash_balances(accounts: QuerySet[CashAccount]) -> dict[int, Decimal]:
    return {
        user_id: balance
        for user_id, balance in accounts.filter(kind=CashAccountKind.USER).values_list(
            "user_id", "balance_amount"
        )
        if user_id is not None
    }


def _positions_value(positions: QuerySet[Position]) -> dict[int, Decimal]:
    values: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for user_id, quantity, last_price, listing_price in positions.filter(
        quantity__gt=0
    ).values_list("user_id", "quantity", "instrument__last_price", "instrument__listing_price"):
        mark = last_price if last_price is not None else listing_price
        values[user_id] += cents(mark * quantity)
    return dict(values)


def live_results(day: date) -> list[DayLine]:
    """The live, ranked board of `day` (today): equity now against the previous close's frozen
    equity, less the contributions since that close. Instruments that first trade after `day`
    are left out, shares and listing contribution alike. Reads one snapshot: 9 queries when the
    previous day is frozen; otherwise its closing equity is rebuilt from the history first."""
    calendar = get_calendar()
    previous = calendar.previous_trading_day(day)
    with _snapshot():
        before = frozen_closes(previous)
        if before is None:
            state = closing_state(previous)
            before = {user_id: (equity, 0) for user_id, equity in state.equities().items()}
        accounts = CashAccount.objects.filter(kind=CashAccountKind.USER)
        cash = _cash_balances(accounts)
        positions = _positions_value(
            Position.objects.filter(instrument__first_trading_date__lte=day)
        )
        contributions = _sum_by(
            _contribution_entries().filter(created_at__gt=cutoff_at(previous)),
            "account__user_id",
            "amount",
        )
        for owner_id, value in _listings(after=previous, through=day).items():
            contributions[owner_id] = contributions.get(owner_id, ZERO) + value
        trades = _trade_summaries(Trade.objects.filter(trading_date=day))
    users = set(cash) | set(positions) | set(before) | set(contributions)
    return rank_lines(
        DayLine(
            user_id=user_id,
            cash_amount=cash.get(user_id, ZERO),
            positions_amount=positions.get(user_id, ZERO),
            equity_previous_amount=before.get(user_id, (ZERO, 0))[0],
            contributions_amount=contributions.get(user_id, ZERO),
            streak_before=before.get(user_id, (ZERO, 0))[1],
            first_trade_at=trades.first_trade_at.get(user_id),
            trades_count=trades.count.get(user_id, 0),
            resting_volume_filled=trades.resting_volume.get(user_id, 0),
        )
        for user_id in users
    )


def _cached_live_results(day: date) -> list[DayLine]:
    """`live_results`, kept for MARKET_LEADERBOARD_LIVE_CACHE_SECONDS (0: computed every time):
    a busy board is computed once for everyone who looks at it within those seconds."""
    seconds = int(getattr(settings, "MARKET_LEADERBOARD_LIVE_CACHE_SECONDS", 10))
    if seconds <= 0:
        return live_results(day)
    key = f"market:leaderboard:live:{day.isoformat()}"
    lines: list[DayLine] | None = cache.get(key)
    if lines is None:
        lines = live_results(day)
        cache.set(key, lines, seconds)
    return lines


def frozen_closes(day: date) -> dict[int, tuple[Decimal, int]] | None:
    """Each user's frozen (equity at the close, streak) of `day`; None if not rolled up."""
    rows = {
        user_id: (equity, streak)
        for user_id, equity, streak in DailyResult.objects.filter(trading_date=day).values_list(
            "user_id", "equity_close_amount", "streak"
        )
    }
    if rows or RollupRun.objects.filter(trading_date=day).exists():
        return rows
    return None


@contextmanager
def _snapshot() -> Iterator[None]:
    """One consistent view across several reads (PostgreSQL: a repeatable-read, read-only
    transaction), so that a trade committing between two of them cannot count twice or not at
    all. Inside a caller's transaction, that transaction's view is used as it is."""
    connection = connections["default"]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


# --- equity at a past close, from the history -------------------------------------------------


def cutoff_at(day: date) -> datetime:
    """The real instant of `day`'s close: contributions (ledger entries stamped with real time)
    up to it belong to `day` or before. On the demo clock, the real instant its close showed."""
    return clock.to_real(get_calendar().close_at(day))


@dataclass(frozen=True)
class TradeSummary:
    """Per user, over some trades: each side's net shares per instrument, and the day's facts
    that rank and badges use."""

    shares: dict[int, dict[int, int]]  # instrument -> user -> net shares bought
    first_trade_at: dict[int, datetime]
    count: dict[int, int]
    # Shares filled against the user's resting orders: continuous trades the other side took.
    resting_volume: dict[int, int]


def _trade_summaries(trades: QuerySet[Trade], *, day_facts: bool = True) -> TradeSummary:
    """Buyers and sellers grouped by user and instrument (net shares, as integers), and with
    `day_facts` (a day, not a span of history) grouped by user: the first trade's time and the
    resting volume. 2 queries, 4 with `day_facts`."""
    shares: dict[int, dict[int, int]] = defaultdict(dict)
    first_at: dict[int, datetime] = {}
    count: dict[int, int] = defaultdict(int)
    resting: dict[int, int] = defaultdict(int)
    for side, user_field, taker in (
        (1, "buyer_id", Side.SELL),
        (-1, "seller_id", Side.BUY),
    ):
        for user_id, instrument_id, quantity, trades_count in (
            trades.values(user_field, "instrument_id")
            .annotate(shares=Sum("quantity"), trades_count=Count("id"))
            .values_list(user_field, "instrument_id", "shares", "trades_count")
        ):
            held = shares[instrument_id]
            held[user_id] = held.get(user_id, 0) + side * quantity
            count[user_id] += trades_count
        if not day_facts:
            continue
        for user_id, first, resting_quantity in (
            trades.values(user_field)
            .annotate(
                first_at=Min("executed_at"),
                resting_shares=Sum("quantity", filter=Q(aggressor_side=taker)),
            )
            .values_list(user_field, "first_at", "resting_shares")
        ):
            if resting_quantity:
                resting[user_id] += resting_quantity
            if user_id not in first_at or first < first_at[user_id]:
                first_at[user_id] = first
    return TradeSummary(dict(shares), first_at, dict(count), dict(resting))


@dataclass(frozen=True)
class Activity:
    """What happened over the trading dates after `after` up to `through` (after=None: since
    the beginning), per user: cash moved by trades and by contributions, shares, and facts."""

    after: date | None
    through: date
    trade_cash: dict[int, Decimal]
    # Deposits, withdrawals and operator adjustments: ledger movements.
    cash_contributions: dict[int, Decimal]
    # Listings that first trade in the period, valued at total_shares x listing_price.
    listing_contributions: dict[int, Decimal]
    trades: TradeSummary
    # Instrument -> (owner, total_shares) for the listings that first trade in the period.
    listed: dict[int, tuple[int, int]]
    # Instrument -> its closing mark at `through`, for those that trade or list in the period.
    marks: dict[int, Decimal]
    # User -> the auctions (record ids) the user traded in.
    auctions: dict[int, set[int]]

    def contributions(self) -> dict[int, Decimal]:
        total = dict(self.cash_contributions)
        for user_id, value in self.listing_contributions.items():
            total[user_id] = total.get(user_id, ZERO) + value
        return total


def activity_between(after: date | None, through: date, *, with_cash: bool = True) -> Activity:
    """The history of trading dates (after, through]: 9 queries (7 from the beginning).
    Without `with_cash`, only holdings and marks (4 queries): no cash, auctions or day facts,
    for a caller that has them frozen already."""
    trades = Trade.objects.filter(trading_date__lte=through)
    trade_entries = LedgerEntry.objects.filter(
        account__kind=CashAccountKind.USER,
        transaction__kind=LedgerKind.TRADE,
        transaction__trade__trading_date__lte=through,
    )
    contribution_entries = _contribution_entries().filter(created_at__lte=cutoff_at(through))
    if after is not None:
        trades = trades.filter(trading_date__gt=after)
        trade_entries = trade_entries.filter(transaction__trade__trading_date__gt=after)
        contribution_entries = contribution_entries.filter(created_at__gt=cutoff_at(after))
    listed: dict[int, tuple[int, int]] = {}
    listing_values: dict[int, Decimal] = defaultdict(lambda: ZERO)
    marks: dict[int, Decimal] = {}
    # The last trade in time (the instrument's trades are written in time order, under its lock).
    last_trades = trades.filter(instrument=OuterRef("pk")).order_by("-executed_at", "-pk")
    rows = (
        Instrument.objects.filter(first_trading_date__lte=through)
        .annotate(last=Subquery(last_trades.values("price")[:1]))
        .values_list(
            "pk", "vehicle__owner_id", "total_shares", "listing_price", "first_trading_date", "last"
        )
    )
    for pk, owner_id, total_shares, listing_price, first_date, last in rows:
        is_new = after is None or first_date > after
        if is_new:
            listed[pk] = (owner_id, total_shares)
            listing_values[owner_id] += listing_price * total_shares
        if last is not None:
            marks[pk] = last
        elif is_new:
            marks[pk] = listing_price
    auctions: dict[int, set[int]] = defaultdict(set)
    if with_cash:
        in_auctions = trades.filter(auction__isnull=False).order_by()
        for user_field in ("buyer_id", "seller_id"):
            for user_id, auction_id in in_auctions.values_list(user_field, "auction_id").distinct():
                auctions[user_id].add(auction_id)
    return Activity(
        after=after,
        through=through,
        trade_cash=_sum_by(trade_entries, "account__user_id", "amount") if with_cash else {},
        cash_contributions=(
            _sum_by(contribution_entries, "account__user_id", "amount") if with_cash else {}
        ),
        listing_contributions=dict(listing_values),
        trades=_trade_summaries(trades, day_facts=with_cash and after is not None),
        listed=listed,
        marks=marks,
        auctions=dict(auctions),
    )


@dataclass
class ClosingState:
    """Everyone's cash and shares at the close of `day`, the instruments' closing marks, who
    has ever traded, and how many auctions each user has traded in."""

    day: date | None
    cash: dict[int, Decimal] = field(default_factory=dict)
    shares: dict[int, dict[int, int]] = field(default_factory=dict)
    marks: dict[int, Decimal] = field(default_factory=dict)
    traded: set[int] = field(default_factory=set)
    auctions_count: dict[int, int] = field(default_factory=dict)

    def advance(self, activity: Activity) -> None:
        """Move to the close of `activity.through`; `activity` starts where this state ends."""
        if activity.after != self.day:
            raise ValueError(f"activity after {activity.after} does not follow {self.day}")
        for movements in (activity.trade_cash, activity.cash_contributions):
            for user_id, amount in movements.items():
                self.cash[user_id] = self.cash.get(user_id, ZERO) + amount
        for instrument_id, (owner_id, total_shares) in activity.listed.items():
            held = self.shares.setdefault(instrument_id, {})
            held[owner_id] = held.get(owner_id, 0) + total_shares
        for instrument_id, bought in activity.trades.shares.items():
            held = self.shares.setdefault(instrument_id, {})
            for user_id, quantity in bought.items():
                held[user_id] = held.get(user_id, 0) + quantity
        self.marks.update(activity.marks)
        self.traded.update(activity.trades.count)
        for user_id, auctions in activity.auctions.items():
            self.auctions_count[user_id] = self.auctions_count.get(user_id, 0) + len(auctions)
        self.day = activity.through

    def positions_values(self) -> dict[int, Decimal]:
        """Each user's shares marked at the closing prices: 1 multiplication per holding."""
        values: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for instrument_id, held in self.shares.items():
            mark = self.marks[instrument_id]
            for user_id, quantity in held.items():
                if quantity:
                    values[user_id] += mark * quantity
        return dict(values)

    def equities(self) -> dict[int, Decimal]:
        values = self.positions_values()
        return {
            user_id: self.cash.get(user_id, ZERO) + values.get(user_id, ZERO)
            for user_id in set(self.cash) | set(values)
        }


def closing_state(day: date) -> ClosingState:
    """Everyone's holdings at `day`'s close, rebuilt from the whole history."""
    state = ClosingState(day=None)
    state.advance(activity_between(None, day))
    return state


# --- helpers ----------------------------------------------------------------------------------


def _contribution_entries() -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(
        account__kind=CashAccountKind.USER, transaction__kind__in=CONTRIBUTION_KINDS
    )


def _listings(*, after: date, through: date) -> dict[int, Decimal]:
    """Each owner's listings that first trade in (after, through], valued at listing price."""
    values: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for owner_id, total_shares, listing_price in Instrument.objects.filter(
        first_trading_date__gt=after, first_trading_date__lte=through
    ).values_list("vehicle__owner_id", "total_shares", "listing_price"):
        values[owner_id] += listing_price * total_shares
    return dict(values)


def _sum_by(queryset: QuerySet[Any], key: str, amount: str) -> dict[int, Decimal]:
    """Exact sums of a money column grouped by `key`: 1 query."""
    if connections[queryset.db].vendor == "postgresql":
        rows = queryset.values(key).annotate(total=Sum(amount)).values_list(key, "total")
        return {group: cents(total) for group, total in rows}
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for group, value in queryset.values_list(key, amount).iterator(chunk_size=10_000):
        totals[group] += value
    return dict(totals)


__all__ = [
    "Activity",
    "ClosingState",
    "DayLine",
    "Leaderboard",
    "LeaderboardEntry",
    "LeaderboardNotFound",
    "activity_between",
    "board_date",
    "closing_state",
    "cutoff_at",
    "equity_of",
    "frozen_closes",
    "leaderboard_get",
    "live_results",
    "pnl_percent",
    "rank_key",
    "rank_lines",
]
