"""Properties of continuous matching on random command sequences."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from market.engine import Order, OrderBook

PRICES = [Decimal(ticks).scaleb(-2) for ticks in range(9996, 10005)]  # 99.96 .. 100.04
BOOK_SETTINGS = settings(max_examples=100, deadline=None)

SUBMITS = st.tuples(
    st.just("submit"),
    st.sampled_from(["buy", "sell"]),
    st.sampled_from(["day", "gtc", "ioc", "market", "protected market"]),
    st.sampled_from(PRICES),
    st.integers(1, 12),
)
CANCELS = st.tuples(st.just("cancel"), st.integers(1, 40))
COMMANDS = st.lists(st.one_of(SUBMITS, SUBMITS, SUBMITS, CANCELS), max_size=40)


def new_order(number, side, kind, price, qty):
    if kind in ("market", "protected market"):
        protection = price if kind == "protected market" else None
        return Order(number, side, qty, seq=number, protection_price=protection)
    return Order(number, side, qty, price, seq=number, tif=kind)


def replay(commands, book=None, first_number=1):
    """Run the commands on a book; for each submit, yield the opposite side's resting orders
    before it (as (id, price, remaining, seq), best first and oldest first), the order and its
    fills. The book's invariants are checked after every command."""
    book = book if book is not None else OrderBook()
    for number, command in enumerate(commands, start=first_number):
        if command[0] == "cancel":
            book.cancel(command[1])
            book.check_invariants()
            continue
        _, side, kind, price, qty = command
        opposite = [(o.id, o.price, o.remaining, o.seq) for o in book.orders() if o.side != side]
        order = new_order(number, side, kind, price, qty)
        fills = book.submit(order)
        book.check_invariants()
        yield opposite, order, fills


def crosses(side, price, resting_price):
    """Whether a `side` order at `price` reaches a resting order at `resting_price`."""
    return resting_price <= price if side == "buy" else resting_price >= price


def better(side, price, than):
    """Whether `price` is better than `than` for an order on the side opposite `side`, that
    is, one that an incoming `side` order would take first."""
    return price < than if side == "buy" else price > than


@BOOK_SETTINGS
@given(COMMANDS)
def test_no_fill_trades_through_a_better_resting_price(commands):
    for opposite, order, fills in replay(commands):
        bound = order.price if order.price is not None else order.protection_price
        filled = {fill.maker_id: fill.qty for fill in fills}
        # Left untaken although reachable, while the order still wanted more or took a worse price.
        passed_over = [
            order_id
            for order_id, price, remaining, _ in opposite
            if filled.get(order_id) != remaining
            and (bound is None or not better(order.side, bound, price))
            and (order.remaining or better(order.side, price, fills[-1].price))
        ]
        assert passed_over == []


@BOOK_SETTINGS
@given(COMMANDS)
def test_orders_at_one_price_fill_oldest_first(commands):
    for opposite, _, fills in replay(commands):
        for price in {fill.price for fill in fills}:
            queue = [order_id for order_id, at, _, _ in opposite if at == price]
            makers = [fill.maker_id for fill in fills if fill.price == price]
            assert makers == queue[: len(makers)]


@BOOK_SETTINGS
@given(COMMANDS)
def test_nobody_trades_beyond_their_limit_or_protection(commands):
    for opposite, order, fills in replay(commands):
        bound = order.price if order.price is not None else order.protection_price
        resting_prices = {order_id: price for order_id, price, _, _ in opposite}
        assert all(fill.price == resting_prices[fill.maker_id] for fill in fills)
        assert all(bound is None or not better(order.side, bound, fill.price) for fill in fills)


@BOOK_SETTINGS
@given(COMMANDS)
def test_fills_take_no_more_than_either_side_has(commands):
    for opposite, order, fills in replay(commands):
        resting = {order_id: remaining for order_id, _, remaining, _ in opposite}
        assert all(0 < fill.qty <= resting[fill.maker_id] for fill in fills)
        assert len({fill.maker_id for fill in fills}) == len(fills)
        assert order.remaining == order.qty - sum(fill.qty for fill in fills) >= 0


@BOOK_SETTINGS
@given(COMMANDS)
def test_only_the_rest_of_a_day_or_gtc_limit_order_rests(commands):
    book = OrderBook()
    for _, order, _ in replay(commands, book):
        rests = order.price is not None and order.tif != "ioc" and order.remaining > 0
        assert (book.get(order.id) is order) is rests


@BOOK_SETTINGS
@given(COMMANDS, COMMANDS, st.sampled_from(["buy", "sell"]), st.integers(1, 12), st.data())
def test_an_order_submitted_then_cancelled_leaves_the_book_as_if_never_sent(
    before, after, side, qty, data
):
    with_it, without_it = OrderBook(), OrderBook()
    list(replay(before, with_it))
    list(replay(before, without_it))
    opposite = [o.price for o in with_it.orders() if o.side != side]
    beyond_every_price = Decimal("99.90") if side == "buy" else Decimal("100.10")
    not_crossing = [p for p in PRICES if not any(crosses(side, p, at) for at in opposite)]
    price = data.draw(st.sampled_from([*not_crossing, beyond_every_price]))
    order = Order(1000, side, qty, price, seq=1000)
    fills = with_it.submit(order)
    with_it.cancel(order.id)

    after_with_it = [fills for _, _, fills in replay(after, with_it, first_number=2000)]
    after_without_it = [fills for _, _, fills in replay(after, without_it, first_number=2000)]

    assert fills == []
    assert after_with_it == after_without_it
    assert with_it.depth(len(PRICES)) == without_it.depth(len(PRICES))
    assert [o.id for o in with_it.orders()] == [o.id for o in without_it.orders()]
