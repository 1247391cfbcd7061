"""The nightly rollup's results (MARKET_RULES 7): one run per trading date, each user's daily
result, and badges. Frozen once written: the ORM refuses to update or delete them
(`ImmutableModel`), and on PostgreSQL triggers refuse it too (migration 0004_rollups).

Registered through the import at the end of `market/models.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from market.models import ImmutableModel, money_field

__all__ = ["Badge", "BadgeKind", "DailyResult", "RollupRun"]


class RollupRun(ImmutableModel):
    """The frozen board of one trading date. Its unique insert is the rollup's mutex: a second
    worker computing the same day fails on it and leaves the first one's rows in place."""

    trading_date = models.DateField(unique=True)
    results_count = models.PositiveIntegerField()
    badges_count = models.PositiveIntegerField()
    # Real instants: when the computation began, and when its rows were written.
    started_at = models.DateTimeField()
    written_at = models.DateTimeField()

    class Meta:
        ordering = ["-trading_date"]

    def __str__(self) -> str:
        return f"rollup {self.trading_date}: {self.results_count} results"


class DailyResult(ImmutableModel):
    """One user's day: equity at the close and at the previous close, the day's net
    contributions, the daily P&L, and the leaderboard's rank and win streak."""

    run = models.ForeignKey(RollupRun, on_delete=models.PROTECT, related_name="results")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="daily_results"
    )
    trading_date = models.DateField()
    cash_amount = money_field(help_text="Cash balance at the close, reservations included.")
    positions_amount = money_field(help_text="Positions marked at the day's closing prices.")
    equity_close_amount = money_field()
    equity_previous_amount = money_field()
    contributions_amount = money_field(
        help_text="Deposits, withdrawals, adjustments and listings of the day: never profit."
    )
    pnl_amount = money_field()
    pnl_percent = models.DecimalField(max_digits=20, decimal_places=2)
    rank = models.PositiveIntegerField()
    streak = models.PositiveIntegerField(help_text="Consecutive trading days with P&L > 0.")
    first_trade_at = models.DateTimeField(null=True, blank=True)
    trades_count = models.PositiveIntegerField(default=0)
    resting_volume_filled = models.PositiveIntegerField(
        default=0, help_text="Shares filled against this user's resting orders that day."
    )
    auctions_taken_part = models.PositiveIntegerField(
        default=0, help_text="Auctions this user has traded in, up to and including the day."
    )

    class Meta:
        ordering = ["trading_date", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "trading_date"], name="daily_result_once_per_user_and_day"
            ),
            models.UniqueConstraint(
                fields=["trading_date", "rank"], name="daily_result_rank_unique_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trading_date} #{self.rank} user {self.user_id}: {self.pnl_amount}"


class BadgeKind(models.TextChoices):
    FIRST_TRADE = "first_trade"
    STREAK_5 = "streak_5"
    STREAK_10 = "streak_10"
    TOP_10 = "top_10"
    LIQUIDITY_PROVIDER = "liquidity_provider"
    AUCTION_REGULAR = "auction_regular"


# Milestones, earned once per user; the others can be earned again on another day.
ONCE_BADGES = (
    BadgeKind.FIRST_TRADE,
    BadgeKind.STREAK_5,
    BadgeKind.STREAK_10,
    BadgeKind.AUCTION_REGULAR,
)


class Badge(ImmutableModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="badges"
    )
    kind = models.CharField(max_length=20, choices=BadgeKind.choices)
    trading_date = models.DateField(help_text="The trading day that earned it.")
    run = models.ForeignKey(RollupRun, on_delete=models.PROTECT, related_name="badges")

    class Meta:
        ordering = ["trading_date", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "trading_date"], name="badge_once_per_user_kind_and_day"
            ),
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=Q(kind__in=[kind.value for kind in ONCE_BADGES]),
                name="badge_milestone_once_per_user",
            ),
        ]
        indexes = [models.Index(fields=["user", "trading_date"], name="badge_user_date")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.trading_date}"
