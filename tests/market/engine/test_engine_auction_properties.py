"""Properties of the call auction on random books, checked against brute force."""

from collections import defaultdict
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from market.engine import Order, indicative, uncross, uncross_at

PRICES = [Decimal(ticks).scaleb(-2) for ticks in range(9995, 10006)]  # 99.95 .. 100.05
REFERENCES = [Decimal(ticks).scaleb(-2) for ticks in range(9990, 10011)]
TICK = Decimal("0.01")
AUCTION_SETTINGS = settings(max_examples=150, deadline=None)


LIMIT = st.sampled_from(PRICES).map(lambda price: (price, None))
MARKET = st.tuples(st.none(), st.none() | st.sampled_from(REFERENCES))
MARKET_UNBOUNDED = st.just((None, None))
SIDES = st.sampled_from(["buy", "sell"])
QUANTITIES = st.integers(1, 30)


def call_books(collars=True):
    """Up to 16 orders, about a fifth of them market orders (with a protection price or not, if
    `collars`), in a random order of arrival; ids and seqs are unique."""
    prices = st.one_of(*[LIMIT] * 4, MARKET if collars else MARKET_UNBOUNDED)
    specs = st.lists(st.tuples(SIDES, QUANTITIES, prices), max_size=16)
    return specs.map(to_orders).flatmap(st.permutations)


def to_orders(specs):
    return [
        Order(number, side, qty, price, seq=number, protection_price=protection)
        for number, (side, qty, (price, protection)) in enumerate(specs, start=1)
    ]


def accepts(order, price):
    """Whether the order trades at `price`; with price None, whether it accepts any price."""
    bound = order.price if order.price is not None else order.protection_price
    if bound is None:
        return True
    if price is None:
        return False
    return bound >= price if order.side == "buy" else bound <= price


def demand(orders, price):
    return sum(o.remaining for o in orders if o.side == "buy" and accepts(o, price))


def supply(orders, price):
    return sum(o.remaining for o in orders if o.side == "sell" and accepts(o, price))


def executable(orders, price):
    return min(demand(orders, price), supply(orders, price))


def every_price(orders, reference):
    """Every tick from just below the lowest price in play to just above the highest."""
    marks = [reference, *(o.price or o.protection_price or reference for o in orders)]
    price = min(marks) - TICK
    while price <= max(marks) + TICK:
        yield price
        price += TICK


def limit_prices(orders):
    return sorted({o.price for o in orders if o.price is not None})


def priority(orders, side, price):
    """The orders of a side that accept `price`, in auction priority: market orders without a
    protection price by time; then by limit or protection price, best first, market orders
    ahead of limits at the same price, then by time."""
    willing = [o for o in orders if o.side == side and accepts(o, price)]
    unbounded = sorted((o for o in willing if accepts(o, None)), key=lambda o: o.seq)
    best_first = -1 if side == "buy" else 1
    bounded = sorted(
        (o for o in willing if not accepts(o, None)),
        key=lambda o: (best_first * (o.price or o.protection_price), o.price is not None, o.seq),
    )
    return unbounded + bounded


def naive_auction_price(orders, reference):
    """MARKET_RULES section 5, read literally, over Decimal prices."""
    candidates = limit_prices(orders)
    best_volume = max((executable(orders, p) for p in candidates), default=0)
    if best_volume == 0:
        return reference if executable(orders, reference) else None
    tied = [p for p in candidates if executable(orders, p) == best_volume]
    least = min(abs(demand(orders, p) - supply(orders, p)) for p in tied)
    tied = [p for p in tied if abs(demand(orders, p) - supply(orders, p)) == least]
    surpluses = {p: demand(orders, p) - supply(orders, p) for p in tied}
    if all(s > 0 for s in surpluses.values()):
        return max(tied)
    if all(s < 0 for s in surpluses.values()):
        return min(tied)
    low, high = min(tied), max(tied)
    if any(s > 0 for s in surpluses.values()) and any(s < 0 for s in surpluses.values()):
        low = max(p for p, s in surpluses.items() if s > 0)
        high = min(p for p, s in surpluses.items() if s < 0)
    if reference >= high:
        return high
    if reference <= low:
        return low
    return reference


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES))
def test_buys_filled_equal_sells_filled_equal_the_volume(orders, reference):
    result = uncross(orders, reference)

    sides = {o.id: o.side for o in orders}
    bought = sum(qty for order_id, qty in result.fills.items() if sides[order_id] == "buy")
    sold = sum(qty for order_id, qty in result.fills.items() if sides[order_id] == "sell")
    assert bought == sold == result.volume == sum(match.qty for match in result.matches)


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES))
def test_matches_add_up_to_each_orders_fill(orders, reference):
    result = uncross(orders, reference)

    matched = {}
    for match in result.matches:
        matched[match.buy_id] = matched.get(match.buy_id, 0) + match.qty
        matched[match.sell_id] = matched.get(match.sell_id, 0) + match.qty
    sides = {o.id: o.side for o in orders}
    assert matched == result.fills
    assert all(sides[m.buy_id] == "buy" and sides[m.sell_id] == "sell" for m in result.matches)


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES))
def test_nobody_fills_beyond_their_limit_protection_or_quantity(orders, reference):
    result = uncross(orders, reference)

    by_id = {o.id: o for o in orders}
    assert all(0 < qty <= by_id[order_id].remaining for order_id, qty in result.fills.items())
    assert all(accepts(by_id[order_id], result.price) for order_id in result.fills)


@AUCTION_SETTINGS
@given(call_books(collars=False), st.sampled_from(REFERENCES))
def test_the_volume_is_the_most_any_price_can_execute(orders, reference):
    result = uncross(orders, reference)

    assert result.volume == max(executable(orders, p) for p in every_price(orders, reference))


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES))
def test_with_collars_the_volume_is_the_most_a_limit_price_can_execute(orders, reference):
    result = uncross(orders, reference)

    most = max((executable(orders, p) for p in limit_prices(orders)), default=0)
    assert result.volume == (most or executable(orders, reference))


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES))
def test_the_price_is_the_one_the_rules_pick(orders, reference):
    result = uncross(orders, reference)

    assert result.price == naive_auction_price(orders, reference)


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES))
def test_the_surplus_is_demand_minus_supply_at_the_price(orders, reference):
    result = uncross(orders, reference)

    expected = (
        0 if result.price is None else demand(orders, result.price) - supply(orders, result.price)
    )
    side = "buy" if expected > 0 else "sell" if expected < 0 else None
    assert (result.surplus, result.surplus_side) == (expected, side)


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES), st.sampled_from(["buy", "sell"]))
def test_orders_fill_in_priority_with_at_most_one_partial_fill_per_side(orders, reference, side):
    result = uncross(orders, reference)
    assume(result.price is not None)

    queue = priority(orders, side, result.price)
    filled = [result.fills.get(o.id, 0) for o in queue]
    reached = sum(1 for qty in filled if qty)
    # Whole fills in priority order, then at most one partial fill, then nothing.
    assert all(qty == o.remaining for qty, o in zip(filled[: reached - 1], queue, strict=False))
    assert not any(filled[reached:])
    assert sum(filled) == result.volume


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES))
def test_the_side_without_surplus_fills_completely(orders, reference):
    result = uncross(orders, reference)
    assume(result.price is not None)

    short_sides = {"buy": ["sell"], "sell": ["buy"], None: ["buy", "sell"]}[result.surplus_side]
    willing = [o for side in short_sides for o in priority(orders, side, result.price)]
    assert all(result.fills.get(o.id) == o.remaining for o in willing)


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES))
def test_the_limit_orders_left_after_an_auction_do_not_cross(orders, reference):
    result = uncross(orders, reference)

    left = [o for o in orders if o.price is not None and result.fills.get(o.id, 0) < o.remaining]
    highest_bid = max((o.price for o in left if o.side == "buy"), default=Decimal(0))
    lowest_ask = min((o.price for o in left if o.side == "sell"), default=Decimal("Infinity"))
    assert highest_bid < lowest_ask


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES), st.randoms(use_true_random=False))
def test_the_same_orders_in_any_order_give_the_same_result(orders, reference, random):
    shuffled = list(orders)
    random.shuffle(shuffled)

    assert uncross(shuffled, reference) == uncross(orders, reference)


def price_levels(orders):
    """One order per side and limit (or protection) price, and per side for the unbounded
    market orders, with the whole quantity there: what the service reads from a deep book."""
    quantities = defaultdict(int)
    for order in orders:
        quantities[(order.side, order.price, order.protection_price)] += order.remaining
    return [
        Order(number, side, quantity, price, seq=number, protection_price=protection)
        for number, ((side, price, protection), quantity) in enumerate(
            sorted(quantities.items(), key=str), start=1
        )
    ]


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES))
def test_the_indicative_auction_of_the_price_levels_is_the_auction_of_the_orders(orders, reference):
    auction = uncross(orders, reference)
    expected = (auction.price, auction.volume, auction.surplus, auction.surplus_side)

    for book in (orders, price_levels(orders)):
        result = indicative(book, reference)
        assert (result.price, result.volume, result.surplus, result.surplus_side) == expected


@AUCTION_SETTINGS
@given(call_books(), st.sampled_from(REFERENCES), st.randoms(use_true_random=False))
def test_the_auction_at_the_levels_price_over_the_orders_accepting_it_is_the_auction(
    orders, reference, random
):
    # What auction_run does with a deep book: the price from the levels, then only the orders
    # that accept it (and whichever others it reads, such as market orders that end).
    price = indicative(price_levels(orders), reference).price
    accepting = [o for o in orders if price is not None and accepts(o, price)]
    others = [o for o in orders if o not in accepting]
    read = accepting + random.sample(others, random.randint(0, len(others)))
    random.shuffle(read)

    assert uncross_at(read, price) == uncross(orders, reference)
