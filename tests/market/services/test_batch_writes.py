"""A batch writes its new orders at its flush, in one statement, with ids taken up front in
command order (their time priority); until then they are the batch's own, and self-trade
prevention looks at them there as well as in the database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from market import locks
from market.errors import SelfTrade
from market.models import Order, OrderStatus, Side
from market.services.orders import PlaceOrder, book_execute

pytestmark = pytest.mark.django_db


def run(instrument, commands):
    with transaction.atomic():
        return book_execute(locks.instrument_for_update(symbol=instrument.symbol), commands)


def bid(user, price, quantity=1):
    return PlaceOrder(user.pk, Side.BUY, "limit", quantity, Decimal(price), "day")


def ask(user, price, quantity=1):
    return PlaceOrder(user.pk, Side.SELL, "limit", quantity, Decimal(price), "day")


def test_a_batch_inserts_its_new_orders_in_one_statement_in_command_order(
    continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    traders = [make_trader(cash="1000.00") for _ in range(5)]
    commands = [bid(trader, f"9{n}.00") for n, trader in enumerate(traders)]

    with CaptureQueriesContext(connection) as queries:
        outcomes = run(instrument, commands)

    inserts = [q["sql"] for q in queries.captured_queries if 'INTO "market_order"' in q["sql"]]
    # One INSERT on SQLite; on PostgreSQL a COPY, which goes past Django's query log.
    assert len(inserts) == (0 if connection.vendor == "postgresql" else 1)
    ids = [outcome.pk for outcome in outcomes]
    assert ids == sorted(ids)
    stored = Order.objects.filter(pk__in=ids).order_by("pk")
    assert [(order.user_id, order.price, order.status) for order in stored] == [
        (trader.pk, Decimal(f"9{n}.00"), OrderStatus.OPEN) for n, trader in enumerate(traders)
    ]
    # As stored, so as a read of them answers: the reservation, the stamps.
    for outcome, order in zip(outcomes, stored, strict=True):
        assert (outcome.reserved_amount, outcome.created_at) == (
            order.reserved_amount,
            order.created_at,
        )


def test_in_a_call_phase_an_order_is_refused_for_its_owners_order_earlier_in_the_batch(
    travel, make_instrument, make_trader
):
    travel("09:00")  # the pre-open: orders wait for the auction, nothing trades
    instrument = make_instrument()
    trader = make_trader(cash="1000.00")
    owner = instrument.vehicle.owner

    placed, owners, refused = run(
        instrument, [bid(trader, "101.00"), ask(owner, "99.00"), ask(trader, "100.00")]
    )

    assert owners.status == OrderStatus.OPEN  # another user's: it waits for the auction
    assert isinstance(refused, SelfTrade)
    assert f"#{placed.pk}" in str(refused.detail)
    assert Order.objects.filter(user=trader).count() == 1


def test_in_continuous_trading_the_refusal_names_the_order_earlier_in_the_batch(
    continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    trader = make_trader(cash="1000.00")

    placed, refused = run(instrument, [bid(trader, "99.00"), ask(trader, "98.00")])

    assert isinstance(refused, SelfTrade)
    assert f"#{placed.pk}" in str(refused.detail)
