"""The market's state: instruments, orders, trades, positions, cash, the ledger, auctions, audit.

Trades, ledger entries, auction records and audit events are immutable: the ORM refuses to
update or delete them (see `ImmutableModel`), and on PostgreSQL triggers refuse it too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from market.money import ZERO


def money_field(**kwargs: Any) -> models.DecimalField:
    """The one money column: dollars and cents."""
    kwargs.setdefault("max_digits", 18)
    kwargs.setdefault("decimal_places", 2)
    return models.DecimalField(**kwargs)


class ImmutableRecord(Exception):
    """Raised on any attempt to change or delete a record that is immutable once written."""


class ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableRecord(f"{self.model.__name__} rows are immutable")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRecord(f"{self.model.__name__} rows are immutable")


class ImmutableModel(models.Model):
    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRecord(f"{type(self).__name__} {self.pk} is immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRecord(f"{type(self).__name__} {self.pk} is immutable")


class Side(models.TextChoices):
    BUY = "buy"
    SELL = "sell"


class OrderType(models.TextChoices):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(models.TextChoices):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class OrderStatus(models.TextChoices):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"


OPEN_STATUSES = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class InstrumentStatus(models.TextChoices):
    ACTIVE = "active"
    HALTED = "halted"
    DELISTED = "delisted"


class TradeKind(models.TextChoices):
    CONTINUOUS = "continuous"
    OPENING_AUCTION = "opening_auction"
    CLOSING_AUCTION = "closing_auction"
    REOPENING_AUCTION = "reopening_auction"


class AuctionKind(models.TextChoices):
    OPENING = "opening"
    CLOSING = "closing"
    REOPENING = "reopening"


class Instrument(models.Model):
    """A listed vehicle's shares. Its row is the book's mutex: every write that touches the
    book, its orders or its positions locks this row first (market/locks.py)."""

    symbol = models.CharField(max_length=12, unique=True)
    vehicle = models.OneToOneField(
        "vehicles.Vehicle", on_delete=models.PROTECT, related_name="instrument"
    )
    total_shares = models.PositiveIntegerField()
    listing_price = money_field()
    status = models.CharField(
        max_length=10, choices=InstrumentStatus.choices, default=InstrumentStatus.ACTIVE
    )
    # The trading date of the first opening auction this instrument takes part in.
    first_trading_date = models.DateField()
    last_price = money_field(null=True, blank=True)
    last_trade_at = models.DateTimeField(null=True, blank=True)
    listed_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_shares__gte=1), name="instrument_total_shares_positive"
            ),
            models.CheckConstraint(
                condition=Q(listing_price__gt=0), name="instrument_listing_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def reference_price(self) -> Decimal:
        """Last trade (auction trades included), else the listing price (MARKET_RULES 3)."""
        return self.last_price if self.last_price is not None else self.listing_price


class Order(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="orders")
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=6, choices=OrderType.choices)
    time_in_force = models.CharField(
        max_length=3, choices=TimeInForce.choices, default=TimeInForce.DAY
    )
    quantity = models.PositiveIntegerField()
    # The limit; None for a market order, which trades within its protection price instead.
    price = money_field(null=True, blank=True)
    protection_price = money_field(null=True, blank=True)
    filled_quantity = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.OPEN)
    # Cash still locked for this order's unfilled part (buys only).
    reserved_amount = money_field(default=ZERO)
    filled_notional = money_field(default=ZERO)
    fees_paid = money_field(default=ZERO)
    # NULL, not "", when absent: the per-user uniqueness applies only to ids the client chose.
    client_order_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    trading_date = models.DateField(help_text="The market date the order was placed on.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_order_id"],
                condition=Q(client_order_id__isnull=False),
                name="order_client_order_id_unique_per_user",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(filled_quantity__lte=F("quantity")), name="order_not_overfilled"
            ),
            models.CheckConstraint(
                condition=Q(reserved_amount__gte=0), name="order_reserved_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(type="limit", price__isnull=False) | Q(type="market", price__isnull=True)
                ),
                name="order_limit_has_price",
            ),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gt=0), name="order_price_positive"
            ),
        ]
        indexes = [
            # The resting book of one instrument, in price-time order per side.
            models.Index(
                fields=["instrument", "side", "price", "id"],
                condition=Q(status__in=["open", "partially_filled"]),
                name="order_resting_book",
            ),
            models.Index(fields=["user", "status"], name="order_user_status"),
            # Each user's open orders, for the limit on them that every placement checks: a
            # long history of closed orders (and their dead index entries) is not read.
            models.Index(
                fields=["user"],
                condition=Q(status__in=["open", "partially_filled"]),
                name="order_user_open",
            ),
        ]

    def __str__(self) -> str:
        price = f"@{self.price}" if self.price is not None else "@market"
        return f"#{self.pk} {self.side} {self.quantity} {self.instrument_id} {price}"

    @property
    def remaining_quantity(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def limit_price(self) -> Decimal | None:
        """The most aggressive price this order may trade at: its limit, or its collar."""
        return self.price if self.price is not None else self.protection_price

    @property
    def average_fill_price(self) -> Decimal | None:
        if not self.filled_quantity:
            return None
        return (self.filled_notional / self.filled_quantity).quantize(Decimal("0.0001"))


class AuctionRecord(ImmutableModel):
    """The result of one uncross (MARKET_RULES 5). One per instrument, trading date and kind."""

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="auctions")
    trading_date = models.DateField()
    kind = models.CharField(max_length=10, choices=AuctionKind.choices)
    # None when nothing crossed.
    price = money_field(null=True, blank=True)
    volume = models.PositiveIntegerField(default=0)
    surplus = models.IntegerField(default=0, help_text="Demand minus supply at the price.")
    reference_price = money_field()
    orders_count = models.PositiveIntegerField(default=0)
    ran_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-trading_date", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "trading_date", "kind"],
                condition=Q(kind__in=["opening", "closing"]),
                name="auction_once_per_day_and_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.kind} {self.trading_date}: {self.volume} @ {self.price}"

    @property
    def surplus_side(self) -> str | None:
        if self.surplus > 0:
            return Side.BUY
        if self.surplus < 0:
            return Side.SELL
        return None


class Trade(ImmutableModel):
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="trades")
    buy_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="buy_trades")
    sell_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="sell_trades")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="buys"
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sells"
    )
    price = money_field()
    quantity = models.PositiveIntegerField()
    notional_amount = money_field()
    buyer_fee_amount = money_field()
    seller_fee_amount = money_field()
    kind = models.CharField(max_length=20, choices=TradeKind.choices)
    # The side that took liquidity; blank in an auction.
    aggressor_side = models.CharField(max_length=4, choices=Side.choices, blank=True)
    auction = models.ForeignKey(
        AuctionRecord, on_delete=models.PROTECT, null=True, blank=True, related_name="trades"
    )
    trading_date = models.DateField()
    executed_at = models.DateTimeField()

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="trade_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="trade_price_positive"),
            models.CheckConstraint(condition=~Q(buyer=F("seller")), name="trade_no_self_trade"),
        ]
        indexes = [
            models.Index(fields=["instrument", "executed_at"], name="trade_instrument_time"),
            models.Index(fields=["instrument", "trading_date"], name="trade_instrument_date"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.quantity} @ {self.price}"


class Position(models.Model):
    """Shares one user holds of one instrument. `cost_basis_amount` is the total cost of the
    shares held (average cost x quantity); `reserved_quantity` is locked by open sell orders."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="positions"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions")
    quantity = models.PositiveIntegerField(default=0)
    reserved_quantity = models.PositiveIntegerField(default=0)
    cost_basis_amount = money_field(default=ZERO)
    realized_pnl_amount = money_field(default=ZERO)
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["instrument__symbol"]
        constraints = [
            models.UniqueConstraint(fields=["user", "instrument"], name="position_unique_per_user"),
            models.CheckConstraint(
                condition=Q(reserved_quantity__lte=F("quantity")),
                name="position_reserved_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(cost_basis_amount__gte=0), name="position_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.instrument_id} x{self.quantity}"

    @property
    def available_quantity(self) -> int:
        return self.quantity - self.reserved_quantity

    @property
    def average_cost(self) -> Decimal:
        if not self.quantity:
            return ZERO
        return (self.cost_basis_amount / self.quantity).quantize(Decimal("0.0001"))


class CashAccountKind(models.TextChoices):
    USER = "user"
    # The platform's commission income.
    REVENUE = "revenue"
    # The outside world: deposits come from it and withdrawals go to it; paper money too.
    EXTERNAL = "external"


class CashAccount(models.Model):
    """A ledger account. A user's stored balance and reservation are caches of the ledger,
    kept under lock and checked by `reconcile`. System accounts store no balance (they would be
    a hot row every trade on every instrument had to lock): theirs is the sum of their entries."""

    kind = models.CharField(
        max_length=10, choices=CashAccountKind.choices, default=CashAccountKind.USER
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cash_account",
    )
    balance_amount = money_field(default=ZERO)
    reserved_amount = money_field(default=ZERO)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="user", user__isnull=False)
                | (~Q(kind="user") & Q(user__isnull=True)),
                name="cash_account_user_iff_user_kind",
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=~Q(kind="user"), name="cash_account_one_per_system_kind"
            ),
            models.CheckConstraint(
                condition=Q(reserved_amount__gte=0), name="cash_account_reserved_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(kind="user") | Q(balance_amount__gte=F("reserved_amount")),
                name="cash_account_available_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.user_id}" if self.user_id else self.kind

    @property
    def available_amount(self) -> Decimal:
        return self.balance_amount - self.reserved_amount


class LedgerKind(models.TextChoices):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    ADJUSTMENT = "adjustment"
    TRADE = "trade"


# Movements that bring money in or take it out: contributions, never profit or loss.
CONTRIBUTION_KINDS = (LedgerKind.DEPOSIT, LedgerKind.WITHDRAWAL, LedgerKind.ADJUSTMENT)


class LedgerTransaction(ImmutableModel):
    """One balanced movement of money: its entries sum to zero."""

    kind = models.CharField(max_length=12, choices=LedgerKind.choices)
    memo = models.CharField(max_length=200, blank=True)
    trade = models.OneToOneField(
        Trade, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_transaction"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class LedgerEntry(ImmutableModel):
    """One leg: positive credits the account (money in), negative debits it."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(CashAccount, on_delete=models.PROTECT, related_name="entries")
    amount = money_field()
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "-id"], name="ledger_entry_account")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount}"


# The `prev_hash` of a chain's first event.
AUDIT_GENESIS_HASH = "0" * 64


class AuditChain(models.Model):
    """The head of one audit chain: its last event's sequence number and hash. One chain per
    instrument (`instrument:<pk>`, appended under the instrument's lock) and one, `market`, for
    the events of no instrument; the head's row lock orders a chain's appends
    (market/services/audit.py)."""

    name = models.CharField(max_length=40, primary_key=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=AUDIT_GENESIS_HASH)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seq}"


class AuditEvent(ImmutableModel):
    """What happened, who did it, to what. Immutable once written, and tamper-evident: each
    event carries its chain's previous hash and its own, a SHA-256 of what it stores
    (`manage.py verify_audit`)."""

    action = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict)
    # Set when the event is made, not on save: the hash covers exactly the stored value.
    created_at = models.DateTimeField(default=timezone.now)
    chain = models.CharField(max_length=40, default="")
    seq = models.PositiveBigIntegerField(default=0)
    prev_hash = models.CharField(max_length=64, default="")
    hash = models.CharField(max_length=64, default="")

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["action", "-id"], name="audit_action")]
        constraints = [
            # Also the index `verify_audit` walks a chain by.
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.action} #{self.pk}"


# --- Real-time streams (MARKET_RULES 9, docs/realtime.md) ------------------------------------


class MarketEvent(models.Model):
    """The transactional outbox: one message for a stream, written in the same transaction as
    the change it describes (market/outbox.py) and published after commit (market/relay.py).

    `seq` is the stream's sequence number, given when the relay publishes the row. The
    markers `book`, `ticker` and `indicative` carry no data: the relay coalesces them into
    state messages computed at publish time, stored as rows of their own (published, with a
    seq), while the markers themselves are marked published without one. So the published
    rows with a seq are exactly the messages the stream sent, in order."""

    stream = models.CharField(max_length=40)
    type = models.CharField(max_length=20)
    data = models.JSONField(default=dict)
    seq = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The relay's work list: what a stream still has to publish, in order.
            models.Index(
                fields=["stream", "id"],
                condition=Q(published_at__isnull=True),
                name="market_event_unpublished",
            ),
            # A consumer filling a gap: the messages a stream sent after a sequence number.
            models.Index(
                fields=["stream", "seq"], condition=Q(seq__isnull=False), name="market_event_seq"
            ),
            # The clock's phase watch: an instrument's last phase event. No index on the stream
            # alone: every row pays for each index twice (inserted, then published by an UPDATE
            # that cannot be HOT), and an auction writes 27,000 rows.
            models.Index(
                fields=["stream", "id"], condition=Q(type="phase"), name="market_event_phase"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stream} {self.type} #{self.pk} seq={self.seq}"


class StreamCursor(models.Model):
    """The last sequence number a stream published. Its row lock serializes the relays of one
    stream, so sequence numbers follow each other without gaps or repeats. A row named
    `state:<stream>` is the lock of that instrument stream's state messages (market.relay)."""

    stream = models.CharField(max_length=40, primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stream} @ {self.last_seq}"


class Notification(models.Model):
    """Something a user should hear about: a fill, an expired or cancelled order, an auction
    result, a listing. Written with the change, pushed on the user's stream after commit."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30)
    title = models.CharField(max_length=120)
    text = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "-id"], name="notification_user_recent")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.title}"


from market.rollup_models import *  # noqa: E402,F403
