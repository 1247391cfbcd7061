"""A batch reads its cash accounts unlocked and locks only those it changes or checks, when it
writes them; what other transactions did to them meanwhile is kept, and a cash check that
would now decide otherwise reruns the batch with its accounts locked first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from market.errors import InsufficientCash
from market.models import CashAccount, Order, OrderStatus, Trade
from market.services import book
from market.services.ledger import cash_deposit, cash_withdraw
from market.services.orders import order_place
from market.services.reconcile import reconcile
from market.services.sequencer import run_book_batch
from tests.market.services.commands import buy, cash, sell


def run_batch(symbol: str, commands: list[object]) -> list[object]:
    """One step of `commands` on one instrument, as the sequencer runs it."""
    return run_book_batch([(symbol, command) for command in commands])


@pytest.fixture
def locked_users(monkeypatch) -> list[set[int]]:
    """The user ids of every cash-account lock a batch takes, one set per lock."""
    calls: list[set[int]] = []
    lock = book.locked_cash_amounts

    def spy(account_ids):
        account_ids = set(account_ids)
        calls.append(
            set(CashAccount.objects.filter(pk__in=account_ids).values_list("user_id", flat=True))
        )
        return lock(account_ids)

    monkeypatch.setattr(book, "locked_cash_amounts", spy)
    monkeypatch.setattr(book, "cash_accounts_for_update", None)  # no lock before the write
    return calls


@pytest.fixture
def meanwhile(monkeypatch) -> Callable[[Callable[[], object]], None]:
    """Run a cash movement in a transaction of its own, committed after the batch has read the
    accounts and before it locks them: what another process could do at that moment."""

    def arrange(move: Callable[[], object]) -> None:
        lock = book.locked_cash_amounts
        done = False

        def lock_after_move(account_ids):
            nonlocal done
            if not done:
                done = True
                thread = threading.Thread(target=_on_own_connection, args=(move,))
                thread.start()
                thread.join(timeout=30)
                assert not thread.is_alive()
            return lock(account_ids)

        monkeypatch.setattr(book, "locked_cash_amounts", lock_after_move)

    return arrange


def _on_own_connection(move: Callable[[], object]) -> None:
    try:
        move()
    finally:
        connection.close()


def bid(user, instrument, price: str, quantity: int = 5) -> Order:
    return order_place(
        user_id=user.pk, symbol=instrument.symbol, side="buy", quantity=quantity, price=price
    )


@pytest.mark.django_db
def test_a_batch_locks_only_the_accounts_it_changes_or_checks(
    continuous_instrument, make_trader, locked_users
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    first, second, third = (make_trader(cash="1000.00") for _ in range(3))
    bid(first, instrument, "99.00")
    bid(second, instrument, "98.00")
    bid(third, instrument, "97.00")
    buyer = make_trader(cash="1000.00")
    locked_users.clear()

    outcomes = run_batch(instrument.symbol, [sell(owner, "97.00", 5), buy(buyer, "90.00", 1)])

    assert [outcome.status for outcome in outcomes] == [OrderStatus.FILLED, OrderStatus.OPEN]
    # Each of the three bids could be crossed at 97.00; only the best one trades. The seller's
    # proceeds, the filled bidder's cost and the new bid's reservation; one lock for them all.
    assert locked_users == [{owner.pk, first.pk, buyer.pk}]


@pytest.mark.django_db
def test_a_refused_order_locks_the_account_it_checked(
    continuous_instrument, make_trader, locked_users
):
    instrument = continuous_instrument()
    poor = make_trader(cash="10.00")

    [refused] = run_batch(instrument.symbol, [buy(poor, "99.00", 5)])

    assert isinstance(refused, InsufficientCash)
    assert locked_users == [{poor.pk}]
    assert cash(poor) == (Decimal("10.00"), Decimal("0.00"))


@pytest.mark.django_db
def test_a_refused_order_that_shielded_an_older_one_leaves_the_batch_trading_with_the_older(
    continuous_instrument, make_trader, locked_users
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    resting, poor = make_trader(cash="1000.00"), make_trader(cash="10.00")
    resting_bid = bid(resting, instrument, "98.00")
    locked_users.clear()
    # Accepted, the poor trader's bid would rest at 99.00 and the owner's sell would meet it;
    # it is refused, so the sell meets the older resting bid, whose owner's cash the batch
    # read with every other owner it could cross.

    refused, sold = run_batch(instrument.symbol, [buy(poor, "99.00", 5), sell(owner, "98.00", 5)])

    assert isinstance(refused, InsufficientCash)
    assert sold.status == OrderStatus.FILLED
    [trade] = Trade.objects.all()
    assert (trade.buy_order_id, trade.price, trade.quantity) == (
        resting_bid.pk,
        Decimal("98.00"),
        5,
    )
    assert locked_users == [{owner.pk, poor.pk, resting.pk}]
    assert Order.objects.filter(user=poor).count() == 0


# Below, another transaction really commits between the batch's read and its lock: PostgreSQL,
# where the batch's transaction does not block it (SQLite's would hold the database write lock).


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cash_moved_meanwhile_is_added_to_not_overwritten(
    continuous_instrument, make_trader, meanwhile
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    buyer = make_trader(cash="1000.00")
    run_batch(instrument.symbol, [sell(owner, "100.00", 5)])
    owner_balance = cash(owner)[0]
    meanwhile(
        lambda: (
            cash_deposit(user_id=buyer.pk, amount="500.00"),
            cash_deposit(user_id=owner.pk, amount="7.00"),
        )
    )

    [order] = run_batch(instrument.symbol, [buy(buyer, "100.00", 5)])

    assert order.status == OrderStatus.FILLED
    # $500.00 and the 1% buyer's fee; the seller gets $500.00 less its 1%.
    assert cash(buyer) == (Decimal("995.00"), Decimal("0.00"))
    assert cash(owner) == (owner_balance + Decimal("502.00"), Decimal("0.00"))
    assert reconcile() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_accepted_order_that_cash_moved_meanwhile_no_longer_covers_is_run_again_and_refused(
    continuous_instrument, make_trader, meanwhile
):
    instrument = continuous_instrument()
    buyer = make_trader(cash="1000.00")
    meanwhile(lambda: cash_withdraw(user_id=buyer.pk, amount="600.00"))

    # $505.00 needed: covered by the $1,000.00 the batch read, not by the $400.00 left.
    [refused] = run_batch(instrument.symbol, [buy(buyer, "100.00", 5)])

    assert isinstance(refused, InsufficientCash)
    assert refused.detail == "Insufficient cash: the order needs $505.00 but $400.00 is available."
    assert not Order.objects.filter(user=buyer).exists()
    assert cash(buyer) == (Decimal("400.00"), Decimal("0.00"))
    assert reconcile() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_refused_order_that_cash_arriving_meanwhile_covers_is_run_again_and_accepted(
    continuous_instrument, make_trader, meanwhile
):
    instrument = continuous_instrument()
    buyer = make_trader(cash="10.00")
    meanwhile(lambda: cash_deposit(user_id=buyer.pk, amount="1000.00"))

    [order] = run_batch(instrument.symbol, [buy(buyer, "100.00", 5)])

    assert order.status == OrderStatus.OPEN
    assert cash(buyer) == (Decimal("1010.00"), Decimal("505.00"))
    assert reconcile() == []
