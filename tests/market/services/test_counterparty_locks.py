"""A combined batch locks the cash accounts of the resting orders it will meet, not of every
order it could cross (so batches of different instruments do not queue on accounts they never
touch), and runs again with every account it could touch locked when a refused order changes
whom it meets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from market.errors import InsufficientCash
from market.models import Order, OrderStatus, Trade
from market.services import book
from market.services.orders import PlaceOrder, order_place
from market.services.sequencer import run_instrument_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked_users(monkeypatch):
    """The user ids of every cash-account lock, one set per locking step."""
    calls: list[set[int]] = []
    lock = book.cash_accounts_for_update

    def spy(user_ids):
        calls.append(set(user_ids))
        return lock(user_ids)

    monkeypatch.setattr(book, "cash_accounts_for_update", spy)
    return calls


def bid(user, instrument, price: str, quantity: int = 5) -> Order:
    return order_place(
        user_id=user.pk, symbol=instrument.symbol, side="buy", quantity=quantity, price=price
    )


def sell(user, price: str, quantity: int) -> PlaceOrder:
    return PlaceOrder(user.pk, "sell", "limit", quantity, Decimal(price), "day")


def test_a_crossing_order_locks_only_the_owners_it_trades_with(
    continuous_instrument, make_trader, locked_users
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    first, second, third = (make_trader(cash="1000.00") for _ in range(3))
    bid(first, instrument, "99.00")
    bid(second, instrument, "98.00")
    bid(third, instrument, "97.00")
    locked_users.clear()

    [outcome] = run_instrument_batch(instrument.symbol, [sell(owner, "97.00", 5)])

    assert outcome.status == OrderStatus.FILLED
    # Each of the three bids could be crossed at 97.00; only the best one trades.
    assert locked_users == [{owner.pk, first.pk}]


def test_a_refused_order_that_shielded_another_reruns_the_batch_with_more_locked(
    continuous_instrument, make_trader, locked_users
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    resting, poor = make_trader(cash="1000.00"), make_trader(cash="10.00")
    resting_bid = bid(resting, instrument, "98.00")
    locked_users.clear()
    # If the poor trader's bid were accepted it would rest at 99.00 and the owner's sell would
    # meet it; it is refused, so the sell meets the resting bid instead, whose owner the first
    # run did not lock.
    poor_bid = PlaceOrder(poor.pk, "buy", "limit", 5, Decimal("99.00"), "day")

    refused, sold = run_instrument_batch(instrument.symbol, [poor_bid, sell(owner, "98.00", 5)])

    assert isinstance(refused, InsufficientCash)
    assert sold.status == OrderStatus.FILLED
    [trade] = Trade.objects.all()
    assert (trade.buy_order_id, trade.price, trade.quantity) == (
        resting_bid.pk,
        Decimal("98.00"),
        5,
    )
    assert locked_users == [{owner.pk, poor.pk}, {owner.pk, poor.pk, resting.pk}]
    assert Order.objects.filter(user=poor).count() == 0
