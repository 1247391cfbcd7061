"""The engine's value types: validation at the interface, prices as ticks inside."""

from decimal import Decimal, localcontext

import pytest

from market.engine import Fill, Order
from market.engine.orders import to_price, to_ticks


def test_a_new_order_has_all_of_its_quantity_remaining():
    order = Order(7, "buy", 12, Decimal("101.25"), seq=3, owner="ann", tif="gtc")

    assert (order.id, order.side, order.qty, order.remaining) == (7, "buy", 12, 12)
    assert (order.price, order.seq, order.owner, order.tif) == (Decimal("101.25"), 3, "ann", "gtc")
    assert not order.is_market


def test_a_price_is_kept_in_its_two_place_form():
    order = Order(1, "sell", 1, Decimal("100.5"))

    assert str(order.price) == "100.50"


def test_a_market_order_keeps_its_protection_price():
    order = Order(1, "buy", 5, protection_price=Decimal("110"))

    assert order.is_market
    assert order.price is None
    assert str(order.protection_price) == "110.00"


@pytest.mark.parametrize(
    ("arguments", "keywords"),
    [
        ((1, "bid", 1, Decimal("1.00")), {}),
        ((1, "buy", 0, Decimal("1.00")), {}),
        ((1, "buy", -3, Decimal("1.00")), {}),
        ((1, "buy", 1.5, Decimal("1.00")), {}),
        ((1, "buy", True, Decimal("1.00")), {}),
        ((1, "buy", 1, Decimal("0.00")), {}),
        ((1, "buy", 1, Decimal("-1.00")), {}),
        ((1, "buy", 1, Decimal("1.001")), {}),
        ((1, "buy", 1, Decimal("NaN")), {}),
        ((1, "buy", 1, Decimal("sNaN")), {}),
        ((1, "buy", 1, Decimal("Infinity")), {}),
        ((1, "buy", 1, 100), {}),
        ((1, "buy", 1, 100.0), {}),
        ((1, "buy", 1, "100.00"), {}),
        ((1, "buy", 1, Decimal("1.00"), 0, None, "fok"), {}),
        ((1, "buy", 1, Decimal("1.00")), {"protection_price": Decimal("2.00")}),
        ((1, "sell", 1), {"protection_price": Decimal("0.005")}),
        ((1, "sell", 1), {"protection_price": 90}),
    ],
    ids=[
        "unknown side",
        "zero quantity",
        "negative quantity",
        "fractional quantity",
        "boolean quantity",
        "zero price",
        "negative price",
        "price off the tick",
        "NaN price",
        "signalling NaN price",
        "infinite price",
        "int price",
        "float price",
        "string price",
        "unknown time in force",
        "limit order with a protection price",
        "protection price off the tick",
        "int protection price",
    ],
)
def test_an_invalid_order_is_refused(arguments, keywords):
    with pytest.raises(ValueError):
        Order(*arguments, **keywords)


@pytest.mark.parametrize(
    ("price", "ticks"),
    [("0.01", 1), ("1", 100), ("99.90", 9990), ("1000000.00", 100_000_000)],
)
def test_prices_convert_to_ticks_and_back(price, ticks):
    assert to_ticks(Decimal(price)) == ticks
    assert to_price(ticks) == Decimal(price)
    assert str(to_price(ticks)) == str(Decimal(price).quantize(Decimal("0.01")))


def test_a_fill_is_a_named_tuple():
    fill = Fill(taker_id=2, maker_id=1, price=Decimal("100.00"), qty=4)

    assert fill == (2, 1, Decimal("100.00"), 4)
    assert fill.taker_id == 2


def test_prices_convert_exactly_whatever_the_decimal_context():
    with localcontext() as context:
        context.prec = 3

        assert to_ticks(Decimal("987654.32")) == 98_765_432
        assert str(to_price(98_765_432)) == "987654.32"
        with pytest.raises(ValueError, match="tick"):
            to_ticks(Decimal("987654.321"))
