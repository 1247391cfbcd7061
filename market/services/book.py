"""The working set of one or more locked instruments inside one transaction.

Order placement, cancels, auctions and expiry all run the same way: lock the instrument rows,
load what the step needs with the cash accounts involved, change the rows in memory, and write
them back in bulk with `flush()`. A step may span several instruments (the order sequencer runs
the pending orders of every instrument it could lock as one step): they share the step's cash
accounts, its statements and its commit. Money moves only here and in `market.services.ledger`.

Cash accounts are shared by every instrument, so a step reads them unlocked and locks them (in
primary key order) only at its flush, just before it writes them; otherwise each step would hold
its traders' accounts while it matches, and the steps of other instruments those traders trade
would queue behind it (docs/market-decisions.md, Concurrency). What a step does to an account
is a sum of amounts that do not depend on its balance (reservations, costs, proceeds), so at
the flush it is added to the account as it then stands. Only the step's cash checks read the
balance: the flush verifies that each would still decide the same, and if one would not, the
step is run again with its accounts locked first (`CashMovedMeanwhile`).
"""

from __future__ import annotations

import functools
import operator
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import router
from django.db.models import Q
from django.utils import timezone

from market.errors import InsufficientCash
from market.locks import cash_accounts_for_update, cash_accounts_unlocked, locked_cash_amounts
from market.models import (
    AuctionRecord,
    AuditEvent,
    CashAccount,
    CashAccountKind,
    Instrument,
    LedgerEntry,
    LedgerKind,
    LedgerTransaction,
    Order,
    OrderStatus,
    Position,
    Side,
    Trade,
)
from market.money import ZERO, buy_reservation, cents, commission
from market.outbox import record_book_step
from market.services.audit import audit_event, audit_write
from market.services.bulk import (
    bulk_create_objects,
    bulk_insert_rows,
    bulk_update_rows,
    next_ids,
)
from market.services.ledger import system_account

ORDER_FIELDS = [
    "status",
    "filled_quantity",
    "filled_notional",
    "fees_paid",
    "reserved_amount",
    "closed_at",
    "updated_at",
]
POSITION_FIELDS = [
    "quantity",
    "reserved_quantity",
    "cost_basis_amount",
    "realized_pnl_amount",
    "updated_at",
]


def buyer_rate() -> Decimal:
    return Decimal(settings.MARKET_COMMISSION_RATE) * Decimal(
        settings.MARKET_COMMISSION_BUYER_SHARE
    )


def reservation_for(order: Order, quantity: int | None = None) -> Decimal:
    """Cash a buy order locks for `quantity` (default: its remaining) shares."""
    remaining = order.remaining_quantity if quantity is None else quantity
    if order.side != Side.BUY or remaining == 0:
        return ZERO
    limit = order.limit_price
    assert limit is not None, "a buy order trades within its limit or its protection price"
    return buy_reservation(limit, remaining, buyer_rate())


class CashMovedMeanwhile(Exception):
    """Another transaction moved a trader's cash between this step's read of the account and
    its lock at the flush, so that one of the step's cash checks would now decide otherwise.
    The step's transaction must be rolled back and the step run again with its accounts locked
    first (`BookSession(lock_cash_first=True)`)."""


@dataclass
class Execution:
    """What one trade did, for the caller's response and notifications."""

    trade: Trade
    buy_order: Order
    sell_order: Order


class BookSession:
    def __init__(
        self,
        instruments: Instrument | Iterable[Instrument],
        *,
        now: datetime,
        trading_date: date,
        lock_cash_first: bool = False,
    ):
        if isinstance(instruments, Instrument):
            instruments = [instruments]
        self.instruments: dict[int, Instrument] = {
            instrument.pk: instrument for instrument in instruments
        }
        self.now = now
        self.trading_date = trading_date
        self.accounts: dict[int, CashAccount] = {}
        self._lock_cash_first = lock_cash_first
        # By user id: each account's balance and reservation as this step last read them, and
        # what its cash checks decided: the tightest accepted (needed minus available, at
        # most zero) and whether any was refused.
        self._cash_seen: dict[int, tuple[Decimal, Decimal]] = {}
        self._tightest_accepted: dict[int, Decimal] = {}
        self._refused_cash: set[int] = set()
        # By (instrument id, user id); the pairs loaded, when not every user's in every
        # instrument of the step.
        self.positions: dict[tuple[int, int], Position] = {}
        self._position_pairs: set[tuple[int, int]] | None = None
        # Keyed by primary key; the engine hands the same ids back as fill and match ids.
        self.orders: dict[Hashable, Order] = {}
        self.executions: list[Execution] = []
        self._dirty_orders: set[int] = set()
        self._dirty_accounts: set[int] = set()
        self._dirty_positions: set[tuple[int, int]] = set()
        self._audit: list[AuditEvent] = []
        self._changed_instruments: set[int] = set()
        self._accounts_loaded = False
        self.placed: list[Order] = []  # accepted this step, for the real-time streams
        # New orders are written at the flush, in one statement, with ids taken up front.
        self.new_orders: list[Order] = []
        self._free_order_ids: list[int] = []

    @property
    def instrument(self) -> Instrument:
        """The step's instrument, when it has one."""
        [instrument] = self.instruments.values()
        return instrument

    # --- loading --------------------------------------------------------------------------

    def track(self, orders: Iterable[Order]) -> list[Order]:
        tracked = []
        for order in orders:
            tracked.append(self.orders.setdefault(order.pk, order))
        return tracked

    def take_order_ids(self, count: int) -> None:
        """Ids for up to `count` orders this step may accept (`add_order`), in one statement."""
        self._free_order_ids = next_ids(Order, count)[::-1]

    def add_order(self, order: Order) -> None:
        """An accepted new order: it takes the next id (its time priority), stamped as a save
        would stamp it, and is inserted at the flush as it is then."""
        order.pk = self._free_order_ids.pop()
        order.created_at = order.updated_at = timezone.now()
        self.new_orders.append(order)
        self.track([order])

    def load_accounts(
        self, user_ids: Iterable[int], *, positions: Iterable[tuple[int, int]] | None = None
    ) -> None:
        """Load every cash account this step may touch, once, unlocked unless `lock_cash_first`
        (the flush locks them), and positions (guarded by the instrument locks): those of
        `positions`, (instrument id, user id) pairs, when given, else the users' in every
        instrument of the step. A step over many instruments names its pairs: its users hold
        positions in most of them, and it needs few."""
        assert not self._accounts_loaded, "accounts are loaded once per step, all together"
        self._accounts_loaded = True
        wanted = set(user_ids)
        read = cash_accounts_for_update if self._lock_cash_first else cash_accounts_unlocked
        self.accounts = read(wanted)
        self._cash_seen = {
            user_id: (account.balance_amount, account.reserved_amount)
            for user_id, account in self.accounts.items()
        }
        if positions is None:
            rows = Position.objects.filter(instrument_id__in=self.instruments, user_id__in=wanted)
        else:
            self._position_pairs = set(positions)
            users_by_instrument: dict[int, set[int]] = defaultdict(set)
            for instrument_id, user_id in self._position_pairs:
                users_by_instrument[instrument_id].add(user_id)
            rows = Position.objects.filter(
                functools.reduce(
                    operator.or_,
                    (
                        Q(instrument_id=instrument_id, user_id__in=users)
                        for instrument_id, users in sorted(users_by_instrument.items())
                    ),
                    Q(pk__in=[]),
                )
            )
        self.positions = {(position.instrument_id, position.user_id): position for position in rows}

    def position(self, user_id: int, instrument_id: int) -> Position:
        key = (instrument_id, user_id)
        position = self.positions.get(key)
        if position is None:
            # Not loaded, so it must not exist: a new one would break the unique pair.
            assert self._position_pairs is None or key in self._position_pairs, key
            position = Position(user_id=user_id, instrument=self.instruments[instrument_id])
            self.positions[key] = position
        return position

    # --- reservations ---------------------------------------------------------------------

    def require_cash(self, user_id: int, needed: Decimal) -> None:
        """Refuse unless the user has `needed` available now, and remember the decision for the
        flush to verify against the locked account."""
        available = self.accounts[user_id].available_amount
        if available < needed:
            self._refused_cash.add(user_id)
            raise InsufficientCash(needed=needed, available=available, field="quantity")
        gap = needed - available
        self._tightest_accepted[user_id] = max(gap, self._tightest_accepted.get(user_id, gap))

    def reserve(self, order: Order) -> None:
        """Lock the cash (buys) or shares (sells) an accepted order needs."""
        self.placed.append(order)  # real-time streams (market/outbox.py)
        if order.side == Side.BUY:
            amount = reservation_for(order)
            order.reserved_amount = amount
            self._mark(order)
            account = self.accounts[order.user_id]
            account.reserved_amount += amount
            self._dirty_accounts.add(order.user_id)
        else:
            self.position(
                order.user_id, order.instrument_id
            ).reserved_quantity += order.remaining_quantity
            self._dirty_positions.add((order.instrument_id, order.user_id))

    def close(self, order: Order, status: str) -> None:
        """End an open order (cancelled, expired, filled) and release what it still locks."""
        if order.side == Side.BUY:
            if order.reserved_amount:
                self.accounts[order.user_id].reserved_amount -= order.reserved_amount
                self._dirty_accounts.add(order.user_id)
                order.reserved_amount = ZERO
        elif order.remaining_quantity:
            key = (order.instrument_id, order.user_id)
            self.positions[key].reserved_quantity -= order.remaining_quantity
            self._dirty_positions.add(key)
        order.status = status
        order.closed_at = self.now
        self._mark(order)

    def _mark(self, order: Order) -> None:
        order.updated_at = self.now
        self._dirty_orders.add(order.pk)
        self.orders.setdefault(order.pk, order)

    # --- trades ---------------------------------------------------------------------------

    def execute(
        self,
        *,
        buy: Order,
        sell: Order,
        price: Decimal,
        quantity: int,
        kind: str,
        aggressor_side: str = "",
        auction: AuctionRecord | None = None,
    ) -> Trade:
        """One trade: shares from seller to buyer, cash the other way, fees to the platform."""
        assert buy.user_id != sell.user_id, "self-trades are prevented before matching"
        assert 0 < quantity <= min(buy.remaining_quantity, sell.remaining_quantity)
        rate = Decimal(settings.MARKET_COMMISSION_RATE)
        buyer_share = Decimal(settings.MARKET_COMMISSION_BUYER_SHARE)
        notional = cents(price * quantity)
        seller_fee = commission(notional, rate, 1 - buyer_share)
        # The buyer's fee is rounded half-up per trade, but never exceeds what the order still
        # reserves beyond its remaining shares' own reservation: a partial fill can otherwise
        # cost a cent more than the up-rounded reservation covers (docs/market-decisions.md).
        reserved_before = buy.reserved_amount
        reserved_after = reservation_for(buy, buy.remaining_quantity - quantity)
        buyer_fee = min(
            commission(notional, rate, buyer_share), reserved_before - notional - reserved_after
        )
        assert buyer_fee >= 0, "a buy order's reservation covers its trades"

        buyer_account = self.accounts[buy.user_id]
        buyer_account.balance_amount -= notional + buyer_fee
        buyer_account.reserved_amount -= reserved_before - reserved_after
        buy.reserved_amount = reserved_after
        seller_account = self.accounts[sell.user_id]
        seller_account.balance_amount += notional - seller_fee
        self._dirty_accounts.update((buy.user_id, sell.user_id))

        instrument = self.instruments[buy.instrument_id]
        assert sell.instrument_id == instrument.pk, "a trade is within one instrument"
        bought = self.position(buy.user_id, instrument.pk)
        bought.quantity += quantity
        bought.cost_basis_amount += notional + buyer_fee
        sold = self.positions[(instrument.pk, sell.user_id)]
        cost_of_sold = (
            sold.cost_basis_amount
            if quantity == sold.quantity
            else cents(sold.cost_basis_amount * quantity / sold.quantity)
        )
        sold.quantity -= quantity
        sold.reserved_quantity -= quantity
        sold.cost_basis_amount -= cost_of_sold
        sold.realized_pnl_amount += notional - seller_fee - cost_of_sold
        self._dirty_positions.update(((instrument.pk, buy.user_id), (instrument.pk, sell.user_id)))

        for order, fee in ((buy, buyer_fee), (sell, seller_fee)):
            order.filled_quantity += quantity
            order.filled_notional += notional
            order.fees_paid += fee
            if order.remaining_quantity == 0:
                order.status = OrderStatus.FILLED
                order.closed_at = self.now
            else:
                order.status = OrderStatus.PARTIALLY_FILLED
            self._mark(order)

        instrument.last_price = price
        instrument.last_trade_at = self.now
        self._changed_instruments.add(instrument.pk)
        # Ids, not the objects: a related object assigned to a model costs a descriptor's
        # checks, and again at the write (an auction makes thousands of trades).
        trade = Trade(
            instrument_id=instrument.pk,
            buy_order_id=buy.pk,
            sell_order_id=sell.pk,
            buyer_id=buy.user_id,
            seller_id=sell.user_id,
            price=price,
            quantity=quantity,
            notional_amount=notional,
            buyer_fee_amount=buyer_fee,
            seller_fee_amount=seller_fee,
            kind=kind,
            aggressor_side=aggressor_side,
            auction_id=None if auction is None else auction.pk,
            trading_date=self.trading_date,
            executed_at=self.now,
        )
        self.executions.append(Execution(trade=trade, buy_order=buy, sell_order=sell))
        return trade

    def audit(self, action: str, *, instrument: Instrument | None = None, **kwargs: object) -> None:
        """An audit event of `instrument` (default: the step's only one)."""
        instrument_id = (instrument or self.instrument).pk
        self._audit.append(audit_event(action=action, instrument_id=instrument_id, **kwargs))  # type: ignore[arg-type]

    # --- writing back ---------------------------------------------------------------------

    def flush(self) -> None:
        """Write every change of this step in bulk, inside the caller's transaction."""
        new, self.new_orders = self.new_orders, []
        if new:  # first: the trades and the audit refer to them
            self._insert_orders(new)
        trades = [execution.trade for execution in self.executions if execution.trade.pk is None]
        if trades:
            bulk_create_objects(trades)
            self._write_trade_ledger(trades)
        orders = [self.orders[pk] for pk in sorted(self._dirty_orders)]
        inserted = {order.pk for order in new}
        if updated := [order for order in orders if order.pk not in inserted]:
            bulk_update_rows(updated, ORDER_FIELDS)
        self._write_positions()
        if changed := [self.instruments[pk] for pk in sorted(self._changed_instruments)]:
            stamped_at = timezone.now()  # as auto_now would
            for instrument in changed:
                instrument.updated_at = stamped_at
            bulk_update_rows(changed, ["last_price", "last_trade_at", "updated_at"])
        # As late as it can be: from here to the commit other instruments' steps wait for them.
        accounts = self._settle_cash()
        audit_write(self._audit)
        placed, self.placed = self.placed, []
        record_book_step(instruments=self.instruments, trades=trades, orders=[*orders, *placed], accounts=accounts, positions=[self.positions[key] for key in sorted(self._dirty_positions)])  # fmt: skip  # real-time streams (market/outbox.py)
        self._dirty_orders.clear()
        self._dirty_accounts.clear()
        self._tightest_accepted.clear()
        self._refused_cash.clear()
        self._dirty_positions.clear()
        self._audit = []
        self._changed_instruments.clear()

    def _settle_cash(self) -> list[CashAccount]:
        """Lock the accounts this step changed or checked, in primary key order; add its changes
        to each as it stands now, once the step's cash checks are verified to decide the same
        on it; write the changed ones. Returns them."""
        checked = self._dirty_accounts | self._tightest_accepted.keys() | self._refused_cash
        if checked and not self._lock_cash_first:
            current = locked_cash_amounts(self.accounts[user_id].pk for user_id in checked)
            for user_id in checked:
                account = self.accounts[user_id]
                seen_balance, seen_reserved = self._cash_seen[user_id]
                balance, reserved = current[account.pk]
                moved = (balance - reserved) - (seen_balance - seen_reserved)
                if moved and (
                    user_id in self._refused_cash
                    or moved < self._tightest_accepted.get(user_id, moved)
                ):
                    raise CashMovedMeanwhile(f"user {user_id}: available cash moved by {moved}")
                account.balance_amount += balance - seen_balance
                account.reserved_amount += reserved - seen_reserved
                self._cash_seen[user_id] = (balance, reserved)
        accounts = [self.accounts[user_id] for user_id in sorted(self._dirty_accounts)]
        if accounts:
            bulk_update_rows(accounts, ["balance_amount", "reserved_amount"])
        return accounts

    def _insert_orders(self, orders: list[Order]) -> None:
        fields = Order._meta.concrete_fields
        rows = [[getattr(order, field.attname) for field in fields] for order in orders]
        bulk_insert_rows(Order, [field.name for field in fields], rows)
        database = router.db_for_write(Order)
        for order in orders:
            order._state.adding = False
            order._state.db = database

    def _write_positions(self) -> None:
        changed = [self.positions[key] for key in sorted(self._dirty_positions)]
        for position in changed:
            position.updated_at = self.now
        new = [position for position in changed if position.pk is None]
        existing = [position for position in changed if position.pk is not None]
        if new:
            Position.objects.bulk_create(new)
        if existing:
            bulk_update_rows(existing, POSITION_FIELDS)

    def _write_trade_ledger(self, trades: list[Trade]) -> None:
        # Rows, not model instances: an auction writes a transaction and three entries per
        # trade, thousands at once.
        revenue = system_account(CashAccountKind.REVENUE)
        written_at = timezone.now()  # as auto_now_add would
        movement_ids = next_ids(LedgerTransaction, len(trades))
        bulk_insert_rows(
            LedgerTransaction,
            ["id", "kind", "memo", "trade", "created_at"],
            [
                (movement_id, LedgerKind.TRADE, _trade_memo(trade), trade.pk, written_at)
                for trade, movement_id in zip(trades, movement_ids, strict=True)
            ],
        )
        entries: list[tuple[int, int, Decimal, str, datetime]] = []
        for trade, movement_id in zip(trades, movement_ids, strict=True):
            symbol = self.instruments[trade.instrument_id].symbol
            buyer_cost = trade.notional_amount + trade.buyer_fee_amount
            seller_proceeds = trade.notional_amount - trade.seller_fee_amount
            bought = f"Bought {trade.quantity} {symbol} @ {trade.price} incl. fee {trade.buyer_fee_amount}"
            sold = (
                f"Sold {trade.quantity} {symbol} @ {trade.price} less fee {trade.seller_fee_amount}"
            )
            fees = trade.buyer_fee_amount + trade.seller_fee_amount
            entries += [
                (movement_id, self.accounts[trade.buyer_id].pk, -buyer_cost, bought, written_at),
                (movement_id, self.accounts[trade.seller_id].pk, seller_proceeds, sold, written_at),
                (movement_id, revenue.pk, fees, f"Commission on trade {trade.pk}", written_at),
            ]
        bulk_insert_rows(
            LedgerEntry, ["transaction", "account", "amount", "description", "created_at"], entries
        )


def _trade_memo(trade: Trade) -> str:
    return f"Trade {trade.pk}: {trade.quantity} @ {trade.price}"
