"""An order or cancel request answers with the order as its batch committed it, without reading
it again when the batch knows all its fills (`selectors.order_answer`). The answer must be
exactly what reading the order afterwards shows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from market import locks, selectors
from market.api.serializers import FillOutput, OrderOutput
from market.models import Order
from market.services.orders import (
    CancelOrder,
    PlaceOrder,
    book_execute,
    order_cancel,
    order_place,
)

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def place(client, symbol, side, quantity, price=None, **fields):
    payload = {"symbol": symbol, "side": side, "quantity": quantity, **fields}
    if price is None:
        payload["type"] = "market"
    else:
        payload["price"] = price
    return client.post(ORDERS, payload, format="json")


def test_every_answer_is_what_reading_the_order_afterwards_shows(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    symbol = instrument.symbol
    seller = client_for(instrument.vehicle.owner)
    buyer = client_for(make_trader(cash="100000.00"))
    answers = []

    def answered(client, response):
        # Read at once: later requests may fill the order further.
        assert client.get(f"{ORDERS}{response.json()['id']}/").json() == response.json()
        answers.append(response)
        return response.json()["id"]

    answered(seller, place(seller, symbol, "sell", 30, "101.00"))  # rests
    answered(seller, place(seller, symbol, "sell", 20, "102.50"))  # rests
    third = answered(buyer, place(buyer, symbol, "buy", 40, "102.00"))  # fills 30, rests 10
    resting = answered(buyer, place(buyer, symbol, "buy", 5, "99.00"))  # rests
    answered(buyer, place(buyer, symbol, "buy", 25, None))  # fills 20 at 102.50, rest cancelled
    answered(seller, place(seller, symbol, "sell", 4, "95.00", time_in_force="ioc"))  # at 102.00
    answered(buyer, place(buyer, symbol, "buy", 3, "90.00", client_order_id="again"))
    answered(buyer, place(buyer, symbol, "buy", 3, "90.00", client_order_id="again"))  # replay
    answered(buyer, buyer.delete(f"{ORDERS}{third}/"))  # partly filled: its fills are read again
    answered(buyer, buyer.delete(f"{ORDERS}{resting}/"))  # never filled

    assert [answer.status_code for answer in answers] == [201] * 7 + [200] * 3
    assert [len(answer.json()["fills"]) for answer in answers] == [0, 0, 1, 0, 1, 1, 0, 0, 2, 0]


def test_an_order_hit_later_in_its_own_batch_answers_with_that_fill_too(
    continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    buyer = make_trader(cash="10000.00")
    resting = make_trader(cash="10000.00")
    [kept] = book_execute_in_transaction(
        instrument, [PlaceOrder(resting.pk, "buy", "limit", 2, Decimal("97.00"), "day")]
    )

    ask, bid, cancel = book_execute_in_transaction(
        instrument,
        [
            PlaceOrder(owner.pk, "sell", "limit", 10, Decimal("98.00"), "day"),
            PlaceOrder(buyer.pk, "buy", "limit", 4, Decimal("98.00"), "day"),
            CancelOrder(resting.pk, kept.pk),
        ],
    )

    with CaptureQueriesContext(connection) as queries:
        answers = [
            OrderOutput(selectors.order_answer(user=user, order=order)).data
            for user, order in ((owner, ask), (buyer, bid), (resting, cancel))
        ]
    assert len(queries) == 0
    assert answers == [
        OrderOutput(selectors.order_get(user=user, order_id=order.pk)).data
        for user, order in ((owner, ask), (buyer, bid), (resting, cancel))
    ]
    assert answers[0]["filled_quantity"] == 4
    assert len(answers[0]["fills"]) == 1
    assert Order.objects.get(pk=kept.pk).status == "cancelled"


def test_another_user_never_gets_the_order_from_the_batch(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    buyer, stranger = make_trader(cash="1000.00"), make_trader(cash="1000.00")
    [order] = book_execute_in_transaction(
        instrument, [PlaceOrder(buyer.pk, "buy", "limit", 1, Decimal("90.00"), "day")]
    )

    with pytest.raises(Exception) as raised:
        selectors.order_answer(user=stranger, order=order)

    assert type(raised.value).__name__ == "OrderNotFound"


def book_execute_in_transaction(instrument, commands):
    with transaction.atomic():
        return book_execute(locks.instrument_for_update(pk=instrument.pk), commands)


def test_the_same_client_order_id_twice_in_one_batch_answers_201_then_200(
    continuous_instrument, make_trader, client_for
):
    # The retry's answer must not turn the first request's into a replay too.
    from market.api.serializers import OrderOutput

    instrument = continuous_instrument()
    buyer = make_trader(cash="1000.00")
    command = PlaceOrder(buyer.pk, "buy", "limit", 1, Decimal("90.00"), "day", "twice")

    first, retry = book_execute_in_transaction(instrument, [command, command])

    assert first.pk == retry.pk
    assert getattr(first, "was_replayed", False) is False
    assert retry.was_replayed is True
    answer = OrderOutput(selectors.order_answer(user=buyer, order=first)).data
    assert answer["client_order_id"] == "twice"
    assert Order.objects.filter(user=buyer).count() == 1


def test_an_order_renders_exactly_as_drf_renders_its_declared_fields(
    continuous_instrument, make_trader
):
    """OrderOutput and FillOutput format with their declared fields unbound (change 28): the
    same JSON as DRF's own rendering, which binds a copy of every field to each instance."""
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    buyer = make_trader(cash="100000.00")

    def place(user, side, quantity, price=None, **fields):
        return order_place(
            user_id=user.pk,
            symbol=instrument.symbol,
            side=side,
            type="limit" if price else "market",
            quantity=quantity,
            price=price,
            **fields,
        )

    place(owner, "sell", 3, "101.00")
    place(owner, "sell", 4, "101.25")
    filled = place(buyer, "buy", 5)  # a market order, filled at two prices
    resting = place(buyer, "buy", 2, "99.50", client_order_id="mine-1")
    place(owner, "sell", 6, "103.00", time_in_force="gtc")
    order_cancel(user_id=buyer.pk, order_id=resting.pk)

    for order in Order.objects.filter(instrument=instrument):
        read = selectors.order_get(user=order.user, order_id=order.pk)
        output = OrderOutput(read)
        assert output.data == serializers.Serializer.to_representation(output, read)
        for fill in selectors.order_fills(read):
            fill_output = FillOutput(fill)
            assert fill_output.data == serializers.Serializer.to_representation(fill_output, fill)
    answer = OrderOutput(selectors.order_get(user=buyer, order_id=filled.pk)).data
    assert [fill["price"] for fill in answer["fills"]] == ["101.00", "101.25"]
    assert answer["average_fill_price"] == "101.10"  # (3 x 101.00 + 2 x 101.25) / 5
