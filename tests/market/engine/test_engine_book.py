"""Continuous matching, worked examples (MARKET_RULES section 6)."""

from decimal import Decimal

import pytest

from market.engine import Fill, Order, OrderBook, SelfTradeError


def d(price):
    return Decimal(price)


def book_with(*orders):
    book = OrderBook()
    for order in orders:
        book.add_resting(order)
    book.check_invariants()
    return book


def test_an_order_that_does_not_cross_rests():
    book = OrderBook()

    fills = book.submit(Order(1, "buy", 10, d("99.00"), seq=1))

    assert fills == []
    assert book.depth() == ([(d("99.00"), 10, 1)], [])
    book.check_invariants()


def test_an_incoming_order_trades_at_the_resting_price():
    book = book_with(Order(1, "sell", 10, d("100.00"), seq=1))

    fills = book.submit(Order(2, "buy", 10, d("105.00"), seq=2))

    assert fills == [Fill(2, 1, d("100.00"), 10)]
    assert len(book) == 0
    book.check_invariants()


def test_the_best_price_fills_first_then_the_oldest_order():
    book = book_with(
        Order(1, "sell", 5, d("100.02"), seq=1),
        Order(2, "sell", 5, d("100.01"), seq=2),
        Order(3, "sell", 5, d("100.01"), seq=3),
    )

    fills = book.submit(Order(4, "buy", 12, d("100.02"), seq=4))

    assert fills == [
        Fill(4, 2, d("100.01"), 5),
        Fill(4, 3, d("100.01"), 5),
        Fill(4, 1, d("100.02"), 2),
    ]
    assert book.depth() == ([], [(d("100.02"), 3, 1)])
    assert book.get(1).remaining == 3
    book.check_invariants()


def test_a_sell_takes_the_highest_bids_first():
    book = book_with(
        Order(1, "buy", 5, d("99.98"), seq=1),
        Order(2, "buy", 5, d("99.99"), seq=2),
    )

    fills = book.submit(Order(3, "sell", 8, d("99.98"), seq=3))

    assert fills == [Fill(3, 2, d("99.99"), 5), Fill(3, 1, d("99.98"), 3)]
    book.check_invariants()


def test_an_order_stops_at_its_limit_and_rests_the_rest():
    book = book_with(
        Order(1, "sell", 5, d("100.00"), seq=1),
        Order(2, "sell", 5, d("100.50"), seq=2),
    )

    fills = book.submit(Order(3, "buy", 8, d("100.20"), seq=3))

    assert fills == [Fill(3, 1, d("100.00"), 5)]
    assert book.depth() == ([(d("100.20"), 3, 1)], [(d("100.50"), 5, 1)])
    book.check_invariants()


@pytest.mark.parametrize("tif", ["day", "gtc"])
def test_the_rest_of_a_day_or_gtc_limit_order_rests(tif):
    book = book_with(Order(1, "buy", 4, d("100.00"), seq=1))

    book.submit(Order(2, "sell", 10, d("100.00"), seq=2, tif=tif))

    assert book.get(2).remaining == 6
    assert book.best_ask() == (d("100.00"), 6)
    book.check_invariants()


def test_the_rest_of_an_ioc_limit_order_is_dropped():
    book = book_with(Order(1, "buy", 4, d("100.00"), seq=1))
    order = Order(2, "sell", 10, d("100.00"), seq=2, tif="ioc")

    fills = book.submit(order)

    assert fills == [Fill(2, 1, d("100.00"), 4)]
    assert order.remaining == 6
    assert len(book) == 0
    book.check_invariants()


def test_a_market_order_sweeps_the_levels_and_its_rest_is_dropped():
    book = book_with(
        Order(1, "sell", 3, d("100.00"), seq=1),
        Order(2, "sell", 3, d("150.00"), seq=2),
    )
    order = Order(3, "buy", 10, seq=3)

    fills = book.submit(order)

    assert fills == [Fill(3, 1, d("100.00"), 3), Fill(3, 2, d("150.00"), 3)]
    assert order.remaining == 4
    assert len(book) == 0
    book.check_invariants()


@pytest.mark.parametrize(
    ("side", "protection", "resting_side", "traded"),
    [
        ("buy", "100.01", "sell", [("100.00", 3), ("100.01", 3)]),
        ("buy", "100.00", "sell", [("100.00", 3)]),
        ("buy", "99.99", "sell", []),
        ("sell", "99.99", "buy", [("100.00", 3), ("99.99", 3)]),
        ("sell", "100.00", "buy", [("100.00", 3)]),
        ("sell", "100.01", "buy", []),
    ],
)
def test_a_market_order_never_trades_beyond_its_protection_price(
    side, protection, resting_side, traded
):
    away = "100.02" if resting_side == "sell" else "99.98"
    near = "100.01" if resting_side == "sell" else "99.99"
    book = book_with(
        Order(1, resting_side, 3, d("100.00"), seq=1),
        Order(2, resting_side, 3, d(near), seq=2),
        Order(3, resting_side, 3, d(away), seq=3),
    )

    fills = book.submit(Order(4, side, 20, seq=4, protection_price=d(protection)))

    assert [(str(fill.price), fill.qty) for fill in fills] == traded
    assert book.get(4) is None
    book.check_invariants()


def test_a_market_order_into_an_empty_book_does_nothing():
    book = OrderBook()
    order = Order(1, "sell", 5, seq=1)

    assert book.submit(order) == []
    assert order.remaining == 5
    assert len(book) == 0


def test_cancel_takes_the_order_out_and_returns_it():
    book = book_with(
        Order(1, "buy", 5, d("99.00"), seq=1),
        Order(2, "buy", 7, d("99.00"), seq=2),
    )

    cancelled = book.cancel(1)

    assert cancelled.id == 1
    assert cancelled.remaining == 5
    assert book.get(1) is None
    assert book.depth() == ([(d("99.00"), 7, 1)], [])
    book.check_invariants()


def test_cancel_of_the_last_order_at_a_price_removes_the_level():
    book = book_with(Order(1, "sell", 5, d("101.00"), seq=1), Order(2, "sell", 5, d("102.00")))

    book.cancel(1)

    assert book.best_ask() == (d("102.00"), 5)
    book.check_invariants()


def test_cancel_of_an_unknown_order_returns_none():
    book = book_with(Order(1, "buy", 5, d("99.00"), seq=1))

    assert book.cancel(99) is None
    assert len(book) == 1


def test_a_cancelled_order_no_longer_trades():
    book = book_with(Order(1, "sell", 5, d("100.00"), seq=1), Order(2, "sell", 5, d("100.00")))
    book.cancel(1)

    fills = book.submit(Order(3, "buy", 5, d("100.00"), seq=3))

    assert fills == [Fill(3, 2, d("100.00"), 5)]


def test_depth_sums_each_level_best_first_up_to_the_levels_asked():
    book = book_with(
        Order(1, "buy", 1, d("99.00")),
        Order(2, "buy", 2, d("99.50")),
        Order(3, "buy", 3, d("99.50")),
        Order(4, "buy", 4, d("98.00")),
        Order(5, "sell", 5, d("101.00")),
        Order(6, "sell", 6, d("100.50")),
    )

    bids, asks = book.depth(levels=2)

    assert bids == [(d("99.50"), 5, 2), (d("99.00"), 1, 1)]
    assert asks == [(d("100.50"), 6, 1), (d("101.00"), 5, 1)]
    assert book.depth(levels=0) == ([], [])


def test_best_bid_and_ask_are_none_on_an_empty_book():
    book = OrderBook()

    assert (book.best_bid(), book.best_ask()) == (None, None)
    assert book.depth() == ([], [])


def test_orders_lists_bids_then_asks_best_price_first_and_oldest_first():
    book = book_with(
        Order("b1", "buy", 1, d("99.00"), seq=1),
        Order("a1", "sell", 1, d("101.00"), seq=2),
        Order("b2", "buy", 1, d("99.50"), seq=3),
        Order("b3", "buy", 1, d("99.00"), seq=4),
        Order("a2", "sell", 1, d("100.50"), seq=5),
    )

    assert [order.id for order in book.orders()] == ["b2", "b1", "b3", "a2", "a1"]


def test_orders_loaded_out_of_seq_order_keep_time_priority():
    book = book_with(
        Order(1, "sell", 1, d("100.00"), seq=30),
        Order(2, "sell", 1, d("100.00"), seq=10),
        Order(3, "sell", 1, d("100.00"), seq=20),
        Order(4, "sell", 1, d("100.00"), seq=20),
    )

    fills = book.submit(Order(5, "buy", 4, d("100.00"), seq=40))

    assert [fill.maker_id for fill in fills] == [2, 3, 4, 1]


def test_a_resting_order_with_an_earlier_seq_queues_ahead_of_later_ones():
    book = book_with(Order(1, "buy", 1, d("99.00"), seq=5))

    book.submit(Order(2, "buy", 1, d("99.00"), seq=2))

    assert [order.id for order in book.orders()] == [2, 1]
    book.check_invariants()


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (Order(9, "buy", 1, d("100.00")), "cross"),
        (Order(9, "sell", 1, d("99.00")), "cross"),
        (Order(9, "buy", 1), "limit"),
        (Order(9, "buy", 1, d("98.00"), tif="ioc"), "limit"),
        (Order(1, "buy", 1, d("98.00")), "already"),
    ],
    ids=["buy crossing", "sell crossing", "market order", "ioc order", "duplicate id"],
)
def test_add_resting_refuses_what_cannot_rest(order, message):
    book = book_with(Order(1, "buy", 1, d("99.00")), Order(2, "sell", 1, d("100.00")))

    with pytest.raises(ValueError, match=message):
        book.add_resting(order)
    book.check_invariants()


def test_submit_refuses_an_id_already_resting():
    book = book_with(Order(1, "buy", 1, d("99.00")))

    with pytest.raises(ValueError, match="already"):
        book.submit(Order(1, "sell", 1, d("99.00")))


def test_submit_refuses_an_order_with_nothing_left():
    book = book_with(Order(1, "sell", 1, d("99.00")))
    filled = Order(2, "buy", 1, d("99.00"))
    book.submit(filled)

    with pytest.raises(ValueError, match="nothing left"):
        book.submit(filled)


@pytest.mark.parametrize(
    ("incoming", "expected"),
    [
        (Order(9, "buy", 1, d("100.00"), owner="ann"), True),
        (Order(9, "buy", 1, d("99.99"), owner="ann"), False),
        (Order(9, "buy", 1, owner="ann"), True),
        (Order(9, "buy", 1, owner="ann", protection_price=d("99.99")), False),
        (Order(9, "sell", 1, d("99.00"), owner="ann"), True),
        (Order(9, "sell", 1, d("99.01"), owner="ann"), False),
        (Order(9, "sell", 1, owner="ann"), True),
        (Order(9, "sell", 1, owner="ann", protection_price=d("99.01")), False),
        (Order(9, "buy", 1, d("100.00"), owner="cy"), False),
        (Order(9, "buy", 1, d("100.00")), False),
    ],
    ids=[
        "buy reaching the own ask",
        "buy below the own ask",
        "market buy",
        "market buy collared below the own ask",
        "sell reaching the own bid",
        "sell above the own bid",
        "market sell",
        "market sell collared above the own bid",
        "an owner with no orders",
        "no owner",
    ],
)
def test_would_self_trade_when_reaching_an_own_order_on_the_other_side(incoming, expected):
    book = book_with(
        Order(1, "buy", 1, d("99.00"), owner="ann"),
        Order(2, "sell", 1, d("100.00"), owner="ann"),
        Order(3, "sell", 1, d("99.50"), owner="bob"),
    )

    assert book.would_self_trade(incoming) is expected


def test_would_self_trade_follows_the_owners_best_order_as_orders_go():
    book = book_with(
        Order(1, "sell", 1, d("100.00"), owner="ann"),
        Order(2, "sell", 1, d("101.00"), owner="ann"),
    )
    buy_at_100_50 = Order(9, "buy", 1, d("100.50"), owner="ann")
    assert book.would_self_trade(buy_at_100_50)

    book.submit(Order(3, "buy", 1, d("100.00"), owner="bob"))

    assert not book.would_self_trade(buy_at_100_50)
    book.check_invariants()


def test_a_self_trade_raises_and_leaves_the_book_untouched():
    book = book_with(
        Order(1, "sell", 5, d("100.00"), owner="bob"),
        Order(2, "sell", 5, d("100.01"), owner="ann"),
    )
    order = Order(3, "buy", 10, d("100.01"), owner="ann")

    with pytest.raises(SelfTradeError):
        book.submit(order)

    assert order.remaining == 10
    assert book.depth() == ([], [(d("100.00"), 5, 1), (d("100.01"), 5, 1)])
    book.check_invariants()


def test_a_self_trade_error_is_a_value_error():
    assert issubclass(SelfTradeError, ValueError)


def test_a_fully_filled_resting_order_is_marked_filled():
    maker = Order(1, "sell", 5, d("100.00"))
    book = book_with(maker)

    book.submit(Order(2, "buy", 5, d("100.00")))

    assert maker.remaining == 0
    assert book.get(1) is None


def test_depth_rejects_a_negative_number_of_levels():
    with pytest.raises(ValueError, match="negative"):
        OrderBook().depth(levels=-1)
