"""Cash: deposits, withdrawals, operator adjustments, and the opening of a user's account.

Every movement is one balanced ledger transaction (its entries sum to zero). A user's stored
balance moves with its entries, under the account's row lock, in the same transaction.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from market.errors import InsufficientCash, InvalidAmount
from market.locks import cash_accounts_for_update
from market.models import CashAccount, CashAccountKind, LedgerEntry, LedgerKind, LedgerTransaction
from market.money import ZERO, cents, to_decimal
from market.outbox import record_account
from market.services.audit import audit_log

MAX_MOVEMENT = Decimal("100000000.00")


def system_account(kind: str) -> CashAccount:
    """The platform's revenue account or the outside world's; created on first use."""
    try:
        return CashAccount.objects.get_or_create(kind=kind, user=None)[0]
    except IntegrityError:  # another process created it first
        return CashAccount.objects.get(kind=kind, user=None)


def cash_account_open(*, user: object) -> CashAccount:
    """Open a new user's cash account; in demo mode credit the paper money.

    Called inside the registration transaction (ACCOUNTS_USER_REGISTERED_HOOKS).
    """
    user_id = user.pk  # type: ignore[attr-defined]
    account, _ = CashAccount.objects.get_or_create(
        user_id=user_id, defaults={"kind": CashAccountKind.USER}
    )
    if settings.MARKET_DEMO_MODE and settings.MARKET_DEMO_CASH > 0:
        _move(
            user_id=user_id,
            amount=settings.MARKET_DEMO_CASH,
            kind=LedgerKind.DEPOSIT,
            memo="Paper money for the demo market",
            actor_id=None,
        )
    return account


def cash_deposit(
    *, user_id: int, amount: Decimal | str, memo: str = "Deposit", actor_id: int | None = None
) -> LedgerTransaction:
    """Money in from the outside world. Locks: the user's cash account."""
    with transaction.atomic(durable=True):
        return _move(
            user_id=user_id,
            amount=_positive(amount),
            kind=LedgerKind.DEPOSIT,
            memo=memo,
            actor_id=actor_id,
        )


def cash_withdraw(
    *, user_id: int, amount: Decimal | str, memo: str = "Withdrawal", actor_id: int | None = None
) -> LedgerTransaction:
    """Money out to the outside world; only available (unreserved) cash. Locks: the account."""
    with transaction.atomic(durable=True):
        return _move(
            user_id=user_id,
            amount=-_positive(amount),
            kind=LedgerKind.WITHDRAWAL,
            memo=memo,
            actor_id=actor_id,
        )


def cash_adjust(
    *, user_id: int, amount: Decimal | str, reason: str, actor_id: int | None = None
) -> LedgerTransaction:
    """An operator's credit (positive) or debit (negative), with a reason. Locks: the account."""
    value = _amount(amount)
    if value == 0:
        raise InvalidAmount("The amount must not be zero.", field="amount")
    if not reason.strip():
        raise InvalidAmount("Say why: a reason is required.", field="reason")
    with transaction.atomic(durable=True):
        return _move(
            user_id=user_id,
            amount=value,
            kind=LedgerKind.ADJUSTMENT,
            memo=reason.strip(),
            actor_id=actor_id,
        )


def _amount(amount: Decimal | str) -> Decimal:
    try:
        value = to_decimal(amount)
    except (TypeError, ValueError):
        raise InvalidAmount(
            "Give the amount as a number of dollars, e.g. 250.00.", field="amount"
        ) from None
    if value != cents(value):
        raise InvalidAmount(
            "An amount has at most two decimal places (whole cents).", field="amount"
        )
    if abs(value) > MAX_MOVEMENT:
        raise InvalidAmount(f"An amount is at most {MAX_MOVEMENT}.", field="amount")
    return cents(value)


def _positive(amount: Decimal | str) -> Decimal:
    value = _amount(amount)
    if value <= 0:
        raise InvalidAmount("The amount must be positive.", field="amount")
    return value


def _move(
    *, user_id: int, amount: Decimal, kind: str, memo: str, actor_id: int | None
) -> LedgerTransaction:
    """Credit (amount > 0) or debit (amount < 0) a user against the outside world."""
    account = cash_accounts_for_update([user_id])[user_id]
    if amount < 0 and account.available_amount < -amount:
        raise InsufficientCash(needed=-amount, available=account.available_amount, field="amount")
    external = system_account(CashAccountKind.EXTERNAL)
    movement = LedgerTransaction.objects.create(kind=kind, memo=memo[:200], created_by_id=actor_id)
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                transaction=movement, account=account, amount=amount, description=memo[:200]
            ),
            LedgerEntry(
                transaction=movement, account=external, amount=-amount, description=memo[:200]
            ),
        ]
    )
    CashAccount.objects.filter(pk=account.pk).update(balance_amount=F("balance_amount") + amount)
    record_account(user_id=user_id, balance_amount=account.balance_amount + amount, reserved_amount=account.reserved_amount)  # fmt: skip  # real-time streams (market/outbox.py)
    audit_log(
        action=f"cash.{kind}",
        actor_id=actor_id,
        user_id=user_id,
        amount=amount,
        memo=memo,
        ledger_transaction=movement.pk,
    )
    return movement


def cash_balance(*, account: CashAccount) -> Decimal:
    """An account's balance from its ledger entries alone (added up in Python: SQLite would
    sum decimals as floats)."""
    return sum(LedgerEntry.objects.filter(account=account).values_list("amount", flat=True), ZERO)
