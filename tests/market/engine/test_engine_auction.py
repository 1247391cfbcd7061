"""The call auction, worked examples (MARKET_RULES section 5).

The books marked "Xetra" are the auction price examples of the Xetra market model (Deutsche
Boerse): highest executable volume, minimum surplus, market pressure on either side, the
reference price, market orders only.
"""

from decimal import Decimal

import pytest

from market.engine import Match, Order, indicative, uncross, uncross_at


def buy(qty, price=None, protection=None):
    return ("buy", qty, price, protection)


def sell(qty, price=None, protection=None):
    return ("sell", qty, price, protection)


def orders_from(specs):
    """Orders with ids and seqs 1, 2, ... in the order given: the first is the oldest."""
    return [
        Order(
            number,
            side,
            qty,
            None if price is None else Decimal(price),
            seq=number,
            protection_price=None if protection is None else Decimal(protection),
        )
        for number, (side, qty, price, protection) in enumerate(specs, start=1)
    ]


XETRA_1 = [
    *(buy(200, "202"), buy(200, "201"), buy(300, "200")),
    *(sell(100, "200"), sell(200, "198"), sell(400, "197")),
]
XETRA_2 = [buy(400, "202"), buy(200, "201"), sell(300, "199"), sell(200, "198")]
XETRA_3 = [buy(300, "202"), buy(200, "201"), sell(400, "199"), sell(200, "198")]
XETRA_4 = [buy(100), buy(100, "199"), sell(100), sell(100, "202")]
XETRA_5 = [buy(300, "202"), buy(200, "201"), sell(200, "198"), sell(300, "199")]
XETRA_6 = [buy(900), sell(800)]
# Highest volume 50 at 100, 101, 102 and 103, all with a surplus of 10: a buy surplus at 100
# and 101, a sell surplus at 102 and 103. The range narrows to 101 .. 102.
BOTH_SIDES = [buy(50, "103"), buy(10, "101"), sell(50, "100"), sell(10, "102")]


@pytest.mark.parametrize(
    ("specs", "reference", "price", "volume", "surplus"),
    [
        pytest.param(XETRA_1, "200", "200", 700, 0, id="xetra-1-one-highest-volume"),
        pytest.param(XETRA_2, "200", "201", 500, 100, id="xetra-2-buy-pressure-highest"),
        pytest.param(XETRA_3, "200", "199", 500, -100, id="xetra-3-sell-pressure-lowest"),
        pytest.param(XETRA_4, "199", "199", 100, 100, id="xetra-4-reference-at-the-low-end"),
        pytest.param(XETRA_4, "198", "199", 100, 100, id="xetra-4-reference-below"),
        pytest.param(XETRA_4, "200", "200", 100, 0, id="xetra-4-reference-inside"),
        pytest.param(XETRA_4, "202", "202", 100, -100, id="xetra-4-reference-at-the-high-end"),
        pytest.param(XETRA_4, "250", "202", 100, -100, id="xetra-4-reference-above"),
        pytest.param(XETRA_5, "200", "200", 500, 0, id="xetra-5-no-surplus-reference-inside"),
        pytest.param(XETRA_5, "202", "201", 500, 0, id="xetra-5-no-surplus-reference-above"),
        pytest.param(XETRA_5, "198", "199", 500, 0, id="xetra-5-no-surplus-reference-below"),
        pytest.param(XETRA_5, "201", "201", 500, 0, id="xetra-5-reference-at-the-high-end"),
        pytest.param(XETRA_6, "250", "250", 800, 100, id="xetra-6-market-orders-only"),
        pytest.param(XETRA_6, "99", "99", 800, 100, id="xetra-6-market-orders-only-low"),
        pytest.param(BOTH_SIDES, "100.50", "101", 50, 10, id="narrowed-reference-below"),
        pytest.param(BOTH_SIDES, "101", "101", 50, 10, id="narrowed-reference-at-low-end"),
        pytest.param(BOTH_SIDES, "101.40", "101.40", 50, 0, id="narrowed-reference-inside"),
        pytest.param(BOTH_SIDES, "102", "102", 50, -10, id="narrowed-reference-at-high-end"),
        pytest.param(BOTH_SIDES, "103.50", "102", 50, -10, id="narrowed-reference-above"),
    ],
)
def test_the_auction_price_follows_the_rules(specs, reference, price, volume, surplus):
    result = uncross(orders_from(specs), Decimal(reference))

    assert (result.price, result.volume, result.surplus) == (Decimal(price), volume, surplus)


@pytest.mark.parametrize(
    ("specs", "reference"),
    [
        pytest.param([], "100", id="empty book"),
        pytest.param([buy(10, "99"), sell(10, "101")], "100", id="limits do not meet"),
        pytest.param([buy(10, "101"), buy(5)], "100", id="buys only"),
        pytest.param([sell(10), sell(10, "99")], "100", id="sells only"),
        pytest.param(
            [buy(10, protection="100.00"), sell(10, "100.01")], "100", id="collar below the ask"
        ),
        pytest.param(
            [buy(10, protection="110"), sell(10, protection="90")],
            "111",
            id="market orders with the reference beyond a collar",
        ),
    ],
)
def test_no_cross_leaves_everything_unfilled(specs, reference):
    result = uncross(orders_from(specs), Decimal(reference))

    assert result.price is None
    assert (result.volume, result.surplus, result.surplus_side) == (0, 0, None)
    assert (result.fills, result.matches) == ({}, [])


def test_market_orders_only_trade_at_the_reference_price_within_their_collars():
    orders = orders_from([buy(10, protection="110"), sell(10, protection="90")])

    result = uncross(orders, Decimal("100"))

    assert (result.price, result.volume) == (Decimal("100.00"), 10)
    assert result.matches == [Match(1, 2, 10)]


def test_market_orders_meet_at_the_reference_price_when_no_limit_price_can_execute():
    orders = orders_from(
        [buy(10, protection="101"), buy(5, "50"), sell(10, protection="99"), sell(5, "150")]
    )

    result = uncross(orders, Decimal("100"))

    assert (result.price, result.volume) == (Decimal("100.00"), 10)
    assert result.fills == {1: 10, 3: 10}


@pytest.mark.parametrize(
    ("protection", "price", "fills"),
    [
        pytest.param("101", "101", {1: 10, 3: 5, 4: 5}, id="protected at the best price"),
        pytest.param("100.50", "100", {1: 5, 3: 5}, id="protected below the best price"),
    ],
)
def test_a_market_order_never_trades_above_its_protection_price_in_the_auction(
    protection, price, fills
):
    orders = orders_from(
        [buy(10, protection=protection), buy(5, "100"), sell(5, "100"), sell(10, "101")]
    )

    result = uncross(orders, Decimal("100"))

    assert result.price == Decimal(price)
    assert result.fills == fills


def test_a_protected_market_order_ranks_at_its_protection_price_after_better_limits():
    orders = orders_from(
        [
            *(buy(2), buy(1, "99.96"), buy(1, "99.95")),
            *(sell(1), sell(2, protection="99.96"), sell(1, "99.95")),
        ]
    )

    result = uncross(orders, Decimal("99.96"))

    assert (result.price, result.volume) == (Decimal("99.96"), 3)
    # The limit sell at 99.95 fills before the market sell protected at 99.96, so it is not
    # left facing the unfilled bid at 99.95.
    assert result.fills == {1: 2, 2: 1, 4: 1, 6: 1, 5: 1}


def test_the_last_order_reached_on_the_surplus_side_fills_partly():
    orders = orders_from([buy(200, "201"), buy(100, "200"), buy(100, "200"), sell(250, "199")])

    result = uncross(orders, Decimal("200"))

    assert (result.price, result.volume) == (Decimal("200.00"), 250)
    assert (result.surplus, result.surplus_side) == (150, "buy")
    assert result.fills == {1: 200, 2: 50, 4: 250}
    assert result.matches == [Match(1, 4, 200), Match(2, 4, 50)]


def test_better_limits_fill_first_then_the_older_order_at_a_limit():
    orders = orders_from(
        [sell(10, "98"), sell(10, "99"), sell(10, "99"), sell(10, "100"), buy(25, "100")]
    )

    result = uncross(orders, Decimal("99"))

    assert (result.price, result.surplus, result.surplus_side) == (Decimal("99.00"), -5, "sell")
    assert result.fills == {1: 10, 2: 10, 3: 5, 5: 25}
    assert result.matches == [Match(5, 1, 10), Match(5, 2, 10), Match(5, 3, 5)]


def test_market_orders_fill_before_limits_and_in_time_order():
    orders = [
        Order(1, "buy", 10, Decimal("105"), seq=1),
        Order(2, "buy", 10, seq=3),
        Order(3, "buy", 10, seq=2),
        Order(4, "sell", 15, Decimal("100"), seq=4),
    ]

    result = uncross(orders, Decimal("100"))

    assert result.price == Decimal("105.00")
    assert result.fills == {3: 10, 2: 5, 4: 15}
    assert result.matches == [Match(3, 4, 10), Match(2, 4, 5)]


def test_matches_pair_buys_with_sells_in_allocation_order():
    result = uncross(orders_from(XETRA_1), Decimal("200"))

    assert result.matches == [
        Match(1, 6, 200),
        Match(2, 6, 200),
        Match(3, 5, 200),
        Match(3, 4, 100),
    ]
    assert sum(match.qty for match in result.matches) == result.volume


def test_an_auction_takes_the_remaining_quantity_and_changes_no_order():
    partly_filled = Order(1, "buy", 100, Decimal("101"), seq=1)
    partly_filled.remaining = 30
    orders = [partly_filled, Order(2, "sell", 50, Decimal("100"), seq=2)]

    result = uncross(orders, Decimal("100"))

    assert result.fills == {1: 30, 2: 30}
    assert (partly_filled.remaining, orders[1].remaining) == (30, 50)


def test_the_input_order_of_the_orders_does_not_matter():
    orders = orders_from([*XETRA_1, buy(50, "200"), sell(70, "197")])

    forwards = uncross(orders, Decimal("200"))
    backwards = uncross(list(reversed(orders)), Decimal("200"))

    assert forwards == backwards


def test_indicative_is_the_auction_as_it_would_run_now_without_its_allocation():
    orders = orders_from(XETRA_2)

    auction = uncross(orders, Decimal("200"))
    result = indicative(orders, Decimal("200"))

    assert (result.price, result.volume, result.surplus, result.surplus_side) == (
        auction.price,
        auction.volume,
        auction.surplus,
        auction.surplus_side,
    )
    assert (result.fills, result.matches) == ({}, [])


def test_the_auction_at_a_known_price_allocates_among_the_orders_that_accept_it():
    orders = orders_from(XETRA_2)
    auction = uncross(orders, Decimal("200"))
    assert auction.price is not None
    accepting = [o for o in orders if auction.fills.get(o.id) or _accepts(o, auction.price)]

    assert uncross_at(accepting, auction.price) == auction
    assert uncross_at(orders, auction.price) == auction


def test_the_auction_at_no_price_fills_nothing():
    orders = orders_from(XETRA_2)

    result = uncross_at(orders, None)

    assert (result.price, result.volume, result.surplus, result.fills, result.matches) == (
        None,
        0,
        0,
        {},
        [],
    )


def test_the_auction_at_a_price_where_nothing_executes_is_refused():
    orders = orders_from([buy(10, "99"), sell(10, "100")])

    with pytest.raises(ValueError, match=r"nothing executes at 99\.50"):
        uncross_at(orders, Decimal("99.50"))


def _accepts(order, price):
    bound = order.price if order.price is not None else order.protection_price
    if bound is None:
        return True
    return bound >= price if order.side == "buy" else bound <= price


def test_a_self_match_in_the_auction_is_a_bug():
    orders = [
        Order(1, "buy", 10, Decimal("101"), seq=1, owner="ann"),
        Order(2, "sell", 10, Decimal("100"), seq=2, owner="ann"),
    ]

    with pytest.raises(ValueError, match="same owner"):
        uncross(orders, Decimal("100"))


@pytest.mark.parametrize(
    ("orders", "reference", "message"),
    [
        pytest.param(
            [Order(1, "buy", 1, Decimal("1")), Order(1, "sell", 1, Decimal("1"))],
            Decimal("1"),
            "unique",
            id="duplicate ids",
        ),
        pytest.param([], Decimal("0.001"), "tick", id="reference off the tick"),
        pytest.param([], 100, "Decimal", id="reference not a Decimal"),
    ],
)
def test_uncross_refuses_invalid_input(orders, reference, message):
    with pytest.raises(ValueError, match=message):
        uncross(orders, reference)


def test_uncross_refuses_an_order_with_nothing_left():
    order = Order(1, "buy", 1, Decimal("1"))
    order.remaining = 0

    with pytest.raises(ValueError, match="left"):
        uncross([order], Decimal("1"))
