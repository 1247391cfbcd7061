"""At most MARKET_MAX_OPEN_ORDERS_PER_USER open orders per user, over every instrument
(docs/market-decisions.md): refused with 409 `too_many_open_orders` and audited. A combined
batch counts them with one query however many orders it holds, and keeps the count as its own
orders rest, fill and are cancelled."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from market import locks
from market.errors import TooManyOpenOrders
from market.models import AuditEvent, Order, OrderStatus
from market.services.orders import CancelOrder, PlaceOrder, book_execute, order_cancel, order_place

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def limit_of_three(settings):
    settings.MARKET_MAX_OPEN_ORDERS_PER_USER = 3


def place(user, instrument, price, side="buy", **kwargs):
    return order_place(
        user_id=user.pk,
        symbol=instrument.symbol,
        side=side,
        quantity=1,
        price=price,
        **kwargs,
    )


def buy(user, price: str) -> PlaceOrder:
    return PlaceOrder(
        user_id=user.pk,
        side="buy",
        type="limit",
        quantity=1,
        price=Decimal(price),
        time_in_force="day",
    )


def run_batch(instrument, commands):
    with transaction.atomic():
        return book_execute(locks.instrument_for_update(pk=instrument.pk), commands)


def test_the_limit_counts_open_orders_over_every_instrument_and_is_audited(
    continuous_instrument, make_trader
):
    first, second = continuous_instrument(), continuous_instrument()
    trader = make_trader(cash="1000.00")
    place(trader, first, "90.00")
    place(trader, second, "90.00")
    place(trader, second, "91.00")

    with pytest.raises(TooManyOpenOrders) as refused:
        place(trader, first, "92.00")

    assert (refused.value.code, refused.value.status) == ("too_many_open_orders", 409)
    assert "3 open orders" in refused.value.detail
    assert Order.objects.filter(user=trader).count() == 3
    event = AuditEvent.objects.get(action="order.rejected")
    assert (event.actor_id, event.instrument_id, event.data["code"]) == (
        trader.pk,
        first.pk,
        "too_many_open_orders",
    )


def test_closed_orders_free_their_place(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    seller = instrument.vehicle.owner
    trader = make_trader(cash="1000.00")
    orders = [place(trader, instrument, price) for price in ("90.00", "91.00", "92.00")]
    order_cancel(user_id=trader.pk, order_id=orders[0].pk)
    place(seller, instrument, "92.00", side="sell")  # fills the 92.00 bid

    placed = [place(trader, instrument, price) for price in ("93.00", "94.00")]

    assert [order.status for order in placed] == [OrderStatus.OPEN, OrderStatus.OPEN]
    assert Order.objects.filter(user=trader, status=OrderStatus.OPEN).count() == 3


def test_a_batch_refuses_the_orders_past_the_limit_with_one_count_query(
    continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    trader = make_trader(cash="1000.00")
    place(trader, instrument, "80.00")
    commands = [buy(trader, price) for price in ("81.00", "82.00", "83.00", "84.00")]

    with CaptureQueriesContext(connection) as queries:
        outcomes = run_batch(instrument, commands)

    assert [type(outcome).__name__ for outcome in outcomes] == [
        "Order",
        "Order",
        "TooManyOpenOrders",
        "TooManyOpenOrders",
    ]
    counts = [query["sql"] for query in queries if "COUNT(" in query["sql"].upper()]
    assert len(counts) == 1
    assert AuditEvent.objects.filter(action="order.rejected").count() == 2


def test_a_batch_counts_what_its_own_commands_close(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    seller = instrument.vehicle.owner
    trader = make_trader(cash="1000.00")
    resting = [place(trader, instrument, price) for price in ("80.00", "81.00", "82.00")]
    ioc = PlaceOrder(
        user_id=trader.pk,
        side="buy",
        type="limit",
        quantity=1,
        price=Decimal("83.00"),
        time_in_force="ioc",
    )
    sell_into_82 = PlaceOrder(
        user_id=seller.pk,
        side="sell",
        type="limit",
        quantity=1,
        price=Decimal("82.00"),
        time_in_force="day",
    )
    commands = [
        # A cancel frees a place; an IOC that finds nothing to trade is cancelled, taking none.
        CancelOrder(user_id=trader.pk, order_id=resting[0].pk),
        ioc,
        buy(trader, "70.00"),
        buy(trader, "71.00"),
        # A fill of a resting bid frees one too.
        sell_into_82,
        buy(trader, "72.00"),
        buy(trader, "73.00"),
    ]

    outcomes = run_batch(instrument, commands)

    assert [
        outcome.code if isinstance(outcome, TooManyOpenOrders) else outcome.status
        for outcome in outcomes
    ] == [
        OrderStatus.CANCELLED,
        OrderStatus.CANCELLED,
        OrderStatus.OPEN,
        "too_many_open_orders",
        OrderStatus.FILLED,  # against the trader's 82.00 bid
        OrderStatus.OPEN,
        "too_many_open_orders",
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
def test_the_count_reads_the_index_of_open_orders_not_the_users_history(
    continuous_instrument, make_trader
):
    # A long-lived trader has thousands of closed orders; the count must not visit them.
    instrument = continuous_instrument()
    trader = make_trader(cash="1000.00")
    run_batch(instrument, [buy(trader, "81.00")])
    with CaptureQueriesContext(connection) as queries:
        run_batch(instrument, [buy(trader, "82.00")])
    [count] = [query["sql"] for query in queries if "COUNT(" in query["sql"].upper()]

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test's table is tiny
        cursor.execute(f"EXPLAIN {count}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "order_user_open" in plan
