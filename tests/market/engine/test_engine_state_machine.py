"""The order book against a deliberately naive reference matcher, command by command."""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from market.engine import Order, OrderBook, SelfTradeError

PRICES = [Decimal(ticks).scaleb(-2) for ticks in range(9996, 10005)]  # 99.96 .. 100.04
OWNERS = [None, "ann", "bob", "cy"]


@dataclass
class NaiveOrder:
    id: int
    side: str
    price: Decimal | None
    protection: Decimal | None
    remaining: int
    seq: int
    owner: str | None
    arrival: int = 0


class NaiveBook:
    """Every resting order in one list, filtered and sorted again for every question."""

    def __init__(self):
        self.resting = []
        self.arrivals = 0

    def crosses(self, order, resting):
        bound = order.price if order.price is not None else order.protection
        if bound is None:
            return True
        return resting.price <= bound if order.side == "buy" else resting.price >= bound

    def queue(self, side):
        """The resting orders of a side, best price first, then by seq, then by arrival."""
        best_first = -1 if side == "buy" else 1
        return sorted(
            (o for o in self.resting if o.side == side),
            key=lambda o: (best_first * o.price, o.seq, o.arrival),
        )

    def would_self_trade(self, order):
        return order.owner is not None and any(
            o.owner == order.owner and o.side != order.side and self.crosses(order, o)
            for o in self.resting
        )

    def would_cross(self, order):
        return any(o.side != order.side and self.crosses(order, o) for o in self.resting)

    def submit(self, order, rests):
        fills = []
        opposite = "sell" if order.side == "buy" else "buy"
        for maker in self.queue(opposite):
            if not order.remaining or not self.crosses(order, maker):
                break
            quantity = min(order.remaining, maker.remaining)
            fills.append((order.id, maker.id, maker.price, quantity))
            order.remaining -= quantity
            maker.remaining -= quantity
        self.resting = [o for o in self.resting if o.remaining]
        if order.remaining and rests:
            self.rest(order)
        return fills

    def rest(self, order):
        self.arrivals += 1
        order.arrival = self.arrivals
        self.resting.append(order)

    def cancel(self, order_id):
        found = [o for o in self.resting if o.id == order_id]
        self.resting = [o for o in self.resting if o.id != order_id]
        return found[0] if found else None

    def depth(self, side):
        levels = {}
        for order in self.queue(side):
            quantity, count = levels.get(order.price, (0, 0))
            levels[order.price] = (quantity + order.remaining, count + 1)
        return [(price, quantity, count) for price, (quantity, count) in levels.items()]


order_kinds = st.sampled_from(["day", "gtc", "ioc", "market", "protected market"])


class BookMachine(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self):
        super().__init__()
        self.book = OrderBook()
        self.naive = NaiveBook()
        self.next_id = 1
        self.clock = 100

    def new_order(self, side, kind, price, qty, owner, seq):
        order_id = self.next_id
        self.next_id += 1
        market = kind in ("market", "protected market")
        protection = price if kind == "protected market" else None
        engine_order = Order(
            order_id,
            side,
            qty,
            None if market else price,
            seq=seq,
            owner=owner,
            tif="day" if market else kind,
            protection_price=protection,
        )
        naive_order = NaiveOrder(
            order_id, side, None if market else price, protection, qty, seq, owner
        )
        return engine_order, naive_order

    def next_seq(self, earlier):
        """Mostly the next tick of the clock; sometimes an earlier seq, as loading does."""
        self.clock += 1
        return self.clock - earlier

    @rule(
        target=ids,
        side=st.sampled_from(["buy", "sell"]),
        kind=order_kinds,
        price=st.sampled_from(PRICES),
        qty=st.integers(1, 12),
        owner=st.sampled_from(OWNERS),
        earlier=st.sampled_from([0, 0, 0, 0, 3, 50]),
    )
    def submit(self, side, kind, price, qty, owner, earlier):
        order, naive_order = self.new_order(side, kind, price, qty, owner, self.next_seq(earlier))
        if self.naive.would_self_trade(naive_order):
            assert self.book.would_self_trade(order)
            with pytest.raises(SelfTradeError):
                self.book.submit(order)
            return order.id
        assert not self.book.would_self_trade(order)

        fills = self.book.submit(order)

        rests = naive_order.price is not None and kind != "ioc"
        assert fills == self.naive.submit(naive_order, rests)
        assert order.remaining == naive_order.remaining
        return order.id

    @rule(
        target=ids,
        side=st.sampled_from(["buy", "sell"]),
        price=st.sampled_from(PRICES),
        qty=st.integers(1, 12),
        owner=st.sampled_from(OWNERS),
        earlier=st.sampled_from([0, 5, 80]),
    )
    def add_resting(self, side, price, qty, owner, earlier):
        order, naive_order = self.new_order(side, "gtc", price, qty, owner, self.next_seq(earlier))
        if self.naive.would_cross(naive_order):
            with pytest.raises(ValueError, match="cross"):
                self.book.add_resting(order)
            return order.id

        self.book.add_resting(order)

        self.naive.rest(naive_order)
        return order.id

    @rule(order_id=consumes(ids))
    def cancel(self, order_id):
        cancelled = self.book.cancel(order_id)

        expected = self.naive.cancel(order_id)
        assert (cancelled and cancelled.id) == (expected and expected.id)

    @rule(order_id=st.integers(-5, 0))
    def cancel_an_unknown_order(self, order_id):
        assert self.book.cancel(order_id) is None

    @invariant()
    def the_book_is_consistent(self):
        self.book.check_invariants()

    @invariant()
    def the_book_shows_what_the_reference_holds(self):
        bids, asks = self.book.depth(levels=len(PRICES))
        assert (bids, asks) == (self.naive.depth("buy"), self.naive.depth("sell"))
        assert len(self.book) == len(self.naive.resting)
        resting = {o.id: o.remaining for o in self.book.orders()}
        assert resting == {o.id: o.remaining for o in self.naive.resting}
        assert [o.id for o in self.book.orders()] == [
            o.id for side in ("buy", "sell") for o in self.naive.queue(side)
        ]

    @invariant()
    def the_best_prices_are_the_top_of_the_depth(self):
        bids, asks = self.book.depth(levels=1)
        assert self.book.best_bid() == (bids[0][:2] if bids else None)
        assert self.book.best_ask() == (asks[0][:2] if asks else None)


def test_the_book_matches_a_naive_reference_matcher_step_by_step():
    run_state_machine_as_test(
        BookMachine,
        settings=settings(max_examples=150, stateful_step_count=40, deadline=None),
    )
