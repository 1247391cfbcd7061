"""Every invariant of the market, checked against the stored rows (`manage.py reconcile`).

Read-only. Each check names what broke and where; an empty list means the books agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Q, Sum

from market.models import (
    OPEN_STATUSES,
    CashAccount,
    CashAccountKind,
    Instrument,
    LedgerEntry,
    LedgerKind,
    Order,
    Position,
    Side,
    Trade,
)
from market.money import ZERO
from market.services.book import reservation_for


@dataclass(frozen=True)
class Break:
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


def reconcile() -> list[Break]:
    breaks: list[Break] = []
    for check in (
        _shares_are_conserved,
        _reserved_shares_match_open_sells,
        _reserved_cash_matches_open_buys,
        _ledger_transactions_balance,
        _balances_match_ledger,
        _fees_match_trades,
        _fills_match_trades,
        _nothing_negative,
    ):
        breaks += check()
    return breaks


def _shares_are_conserved() -> list[Break]:
    held = dict(
        Position.objects.values("instrument_id")
        .annotate(total=Sum("quantity"))
        .values_list("instrument_id", "total")
    )
    return [
        Break(
            "shares",
            f"{instrument.symbol}: positions hold {held.get(instrument.pk, 0)} of {instrument.total_shares} shares",
        )
        for instrument in Instrument.objects.all()
        if held.get(instrument.pk, 0) != instrument.total_shares
    ]


def _reserved_shares_match_open_sells() -> list[Break]:
    needed: dict[tuple[int, int], int] = defaultdict(int)
    for order in Order.objects.filter(side=Side.SELL, status__in=OPEN_STATUSES).only(
        "user_id", "instrument_id", "quantity", "filled_quantity"
    ):
        needed[(order.user_id, order.instrument_id)] += order.remaining_quantity
    breaks = []
    seen = set()
    for position in Position.objects.all():
        key = (position.user_id, position.instrument_id)
        seen.add(key)
        if position.reserved_quantity != needed.get(key, 0):
            breaks.append(
                Break(
                    "reserved shares",
                    f"user {position.user_id} instrument {position.instrument_id}: reserved "
                    f"{position.reserved_quantity}, open sells need {needed.get(key, 0)}",
                )
            )
    for key in needed.keys() - seen:
        breaks.append(
            Break("reserved shares", f"user {key[0]} sells instrument {key[1]} without a position")
        )
    return breaks


def _reserved_cash_matches_open_buys() -> list[Break]:
    breaks = []
    needed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for order in Order.objects.filter(side=Side.BUY, status__in=OPEN_STATUSES):
        needed[order.user_id] += order.reserved_amount
        expected = reservation_for(order)
        if order.reserved_amount != expected:
            breaks.append(
                Break(
                    "order reservation",
                    f"order {order.pk} reserves {order.reserved_amount}, its rest needs {expected}",
                )
            )
    closed_reserving = Order.objects.exclude(status__in=OPEN_STATUSES).filter(reserved_amount__gt=0)
    breaks += [
        Break("order reservation", f"closed order {pk} still reserves {amount}")
        for pk, amount in closed_reserving.values_list("pk", "reserved_amount")
    ]
    for account in CashAccount.objects.filter(kind=CashAccountKind.USER):
        if account.reserved_amount != needed.get(account.user_id or 0, ZERO):
            breaks.append(
                Break(
                    "reserved cash",
                    f"user {account.user_id}: reserved {account.reserved_amount}, open buys need "
                    f"{needed.get(account.user_id or 0, ZERO)}",
                )
            )
    return breaks


def _decimal_sums(rows: Iterable[tuple[int, Decimal]]) -> tuple[dict[int, Decimal], dict[int, int]]:
    """Sums and counts per key, added up in Python: SQLite sums decimals as floats."""
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    counts: dict[int, int] = defaultdict(int)
    for key, amount in rows:
        totals[key] += amount
        counts[key] += 1
    return totals, counts


def _ledger_transactions_balance() -> list[Break]:
    totals, legs = _decimal_sums(
        LedgerEntry.objects.values_list("transaction_id", "amount").iterator(chunk_size=10_000)
    )
    return [
        Break("ledger", f"transaction {pk} has {legs[pk]} legs summing to {total}")
        for pk, total in totals.items()
        if total != 0 or legs[pk] < 2
    ]


def _balances_match_ledger() -> list[Break]:
    totals, _ = _decimal_sums(
        LedgerEntry.objects.values_list("account_id", "amount").iterator(chunk_size=10_000)
    )
    return [
        Break(
            "balance",
            f"user {account.user_id}: stored {account.balance_amount}, ledger says {totals.get(account.pk, ZERO)}",
        )
        for account in CashAccount.objects.filter(kind=CashAccountKind.USER)
        if account.balance_amount != totals.get(account.pk, ZERO)
    ]


def _fees_match_trades() -> list[Break]:
    fees = sum(
        (
            buyer + seller
            for buyer, seller in Trade.objects.values_list("buyer_fee_amount", "seller_fee_amount")
        ),
        ZERO,
    )
    revenue = sum(
        LedgerEntry.objects.filter(
            account__kind=CashAccountKind.REVENUE, transaction__kind=LedgerKind.TRADE
        ).values_list("amount", flat=True),
        ZERO,
    )
    trades_without_ledger = Trade.objects.filter(ledger_transaction__isnull=True).count()
    breaks = []
    if fees != revenue:
        breaks.append(
            Break("fees", f"trades record {fees} in fees, the revenue account received {revenue}")
        )
    if trades_without_ledger:
        breaks.append(Break("fees", f"{trades_without_ledger} trades have no ledger transaction"))
    return breaks


def _fills_match_trades() -> list[Break]:
    filled: dict[int, int] = defaultdict(int)
    for buy_id, sell_id, quantity in Trade.objects.values_list(
        "buy_order_id", "sell_order_id", "quantity"
    ):
        filled[buy_id] += quantity
        filled[sell_id] += quantity
    breaks = []
    for pk, filled_quantity, quantity in Order.objects.values_list(
        "pk", "filled_quantity", "quantity"
    ):
        if filled_quantity != filled.get(pk, 0) or filled_quantity > quantity:
            breaks.append(
                Break(
                    "fills",
                    f"order {pk}: filled {filled_quantity} of {quantity}, trades say {filled.get(pk, 0)}",
                )
            )
    return breaks


def _nothing_negative() -> list[Break]:
    accounts = CashAccount.objects.filter(kind=CashAccountKind.USER).filter(
        Q(reserved_amount__lt=0) | Q(balance_amount__lt=F("reserved_amount"))
    )
    positions = Position.objects.filter(reserved_quantity__gt=F("quantity"))
    return [
        Break("negative", f"user {account.user_id}: available cash {account.available_amount}")
        for account in accounts
    ] + [
        Break(
            "negative",
            f"user {position.user_id} instrument {position.instrument_id}: available shares {position.available_quantity}",
        )
        for position in positions
    ]
