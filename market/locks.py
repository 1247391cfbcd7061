"""Every row lock the market takes, in one place and one order (STYLE.md, Locking):

1. the instrument row: the book's mutex; its orders and positions change only under it. A step
   of several instruments (the order sequencer's) waits for one of them at most, before it
   holds any lock, and takes the others only if they are free (`instruments_for_update`);
   every other transaction locks one instrument;
2. cash accounts, by primary key: they are shared across instruments, so every transaction
   that locks several takes them in ascending primary key order and cannot deadlock. A book
   step reads them unlocked and locks them only when it writes them, at its flush
   (market/services/book.py, `BookSession._settle_cash`), so that no instrument's step holds an
   account while it matches;
3. audit chain heads, by name, last: a transaction takes them when it writes its audit events
   and waits for nothing after them but its commit.

On SQLite `select_for_update` is a no-op; there IMMEDIATE transactions serialize writers.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from market.errors import InstrumentNotFound
from market.models import AuditChain, CashAccount, CashAccountKind, Instrument


def instrument_for_update(*, symbol: str | None = None, pk: int | None = None) -> Instrument:
    queryset = Instrument.objects.select_for_update()
    try:
        if pk is not None:
            return queryset.get(pk=pk)
        return queryset.get(symbol=(symbol or "").upper())
    except Instrument.DoesNotExist:
        raise InstrumentNotFound(symbol=symbol or pk, field="symbol") from None


def instruments_for_update(
    symbols: Iterable[str], *, wait_for: str | None = None
) -> dict[str, Instrument]:
    """Lock the instruments of `symbols` that no other transaction holds, skipping the others
    (`SKIP LOCKED`): by symbol, in primary key order. `wait_for`, one of them, is waited for and
    locked first. Called before the transaction holds any lock, so it waits for one row at most
    and with nothing held: no two such transactions can deadlock, whatever they lock."""
    locked: dict[str, Instrument] = {}
    if wait_for is not None:
        locked.update(
            (instrument.symbol, instrument)
            for instrument in Instrument.objects.select_for_update().filter(symbol=wait_for)
        )
    if others := set(symbols) - {wait_for}:
        locked.update(
            (instrument.symbol, instrument)
            for instrument in Instrument.objects.select_for_update(skip_locked=True)
            .filter(symbol__in=others)
            .order_by("pk")
        )
    return dict(sorted(locked.items(), key=lambda item: item[1].pk))


def cash_accounts_for_update(user_ids: Iterable[int]) -> dict[int, CashAccount]:
    """Lock the users' cash accounts in primary key order, opening any that is missing."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    _open_missing(
        wanted, CashAccount.objects.filter(user_id__in=wanted).values_list("user_id", flat=True)
    )
    return _by_user(
        CashAccount.objects.select_for_update(no_key=True).filter(user_id__in=wanted).order_by("pk")
    )


def cash_accounts_unlocked(user_ids: Iterable[int]) -> dict[int, CashAccount]:
    """The users' cash accounts as they stand, opening any that is missing, without a lock: a
    snapshot to lock and rebase before anything is written from it (`locked_cash_amounts`)."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    found = _by_user(CashAccount.objects.filter(user_id__in=wanted))
    if _open_missing(wanted, found):
        found = _by_user(CashAccount.objects.filter(user_id__in=wanted))
    return found


def _open_missing(wanted: set[int], present: Iterable[int | None]) -> bool:
    missing = wanted.difference(present)
    for user_id in missing:
        CashAccount.objects.get_or_create(user_id=user_id, defaults={"kind": CashAccountKind.USER})
    return bool(missing)


def _by_user(accounts: Iterable[CashAccount]) -> dict[int, CashAccount]:
    return {account.user_id: account for account in accounts if account.user_id is not None}


def locked_cash_amounts(account_ids: Iterable[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """Lock the cash accounts in primary key order; each one's balance and reservation as
    they stand now, by primary key."""
    rows = (
        CashAccount.objects.select_for_update(no_key=True)
        .filter(pk__in=set(account_ids))
        .order_by("pk")
        .values_list("pk", "balance_amount", "reserved_amount")
    )
    return {pk: (balance, reserved) for pk, balance, reserved in rows}


def audit_chains_for_update(names: Iterable[str]) -> dict[str, AuditChain]:
    """Lock the heads of the named audit chains in name order, starting any that is missing."""
    wanted = sorted(set(names))
    heads = {
        head.name: head
        for head in AuditChain.objects.select_for_update().filter(name__in=wanted).order_by("name")
    }
    missing = [name for name in wanted if name not in heads]
    if missing:
        # Two transactions may start the same chain at once: one insert wins, both then lock it.
        AuditChain.objects.bulk_create(
            [AuditChain(name=name) for name in missing], ignore_conflicts=True
        )
        heads.update(
            (head.name, head)
            for head in AuditChain.objects.select_for_update()
            .filter(name__in=missing)
            .order_by("name")
        )
    return heads
