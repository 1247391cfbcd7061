"""The engine against a deliberately naive reference market, over thousands of random sessions.

A session is a stream of commands run through both: orders placed (limit day/gtc, ioc, market
orders with the service's collar, and now and then one without), cancels, indicative auction
prices, and phase changes through the trading day: pre-open (call) -> opening auction ->
continuous -> closing call -> closing auction (day orders expire) -> pre-open again.

The reference keeps every order in one list and answers every question with a linear scan
written straight from MARKET_RULES sections 3, 5 and 6 and the choices of docs/engine.md and
docs/market-decisions.md. The engine side is driven the way the services drive it
(market/services/orders.py and auctions.py): a continuous book of `OrderBook`, the call phases'
orders in a list handed to `uncross`, the book rebuilt with `add_resting` after each auction.
Every fill, trade, auction result and resulting book must be identical.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.engine import Order, OrderBook, SelfTradeError, uncross

SEEDS = range(3_000)
LISTING_PRICE = Decimal("100.00")
TICK = Decimal("0.01")
PROTECTION_RATE = Decimal("0.10")
# Price grids around the listing price: on the tick, half dollars, and two-dollar steps that
# reach past the market orders' 10% collar.
PRICE_STEPS = [Decimal("0.01"), Decimal("0.50"), Decimal("2.00")]
PRICE_OFFSETS = range(-7, 8)
OWNERS = ["ann", "bob", "cy", "dee", "eve", None]
# Kinds of order: "unbounded" is a market order without a protection price, which the services
# never store but the engine supports (it fills ahead of everything in an auction).
KINDS = ["day", "gtc", "ioc", "market", "unbounded"]
KIND_WEIGHTS = [30, 20, 10, 12, 3]
# The phase cycle; "advance" moves to the next phase, running the auction where one is due.
PRE_OPEN, CONTINUOUS, CLOSING_CALL = "pre-open", "continuous", "closing call"
CALL_PHASES = (PRE_OPEN, CLOSING_CALL)
INVARIANTS_EVERY = 8


# Commands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    side: str
    kind: str
    offset: int  # the limit's place on the price grid
    qty: int
    owner: str | None


@dataclass(frozen=True)
class Cancel:
    pick: int  # which order placed so far (modulo their count); negative: an unknown id


@dataclass(frozen=True)
class Indicative:
    pass


@dataclass(frozen=True)
class Advance:
    pass


Command = Place | Cancel | Indicative | Advance


def random_session(seed: int) -> tuple[Decimal, list[Command]]:
    """A price step and 50 to 200 commands, from the seed alone."""
    rng = random.Random(seed)
    step = rng.choice(PRICE_STEPS)
    # A few sessions trade in a narrow band, where levels fill up and queues get long.
    offsets = PRICE_OFFSETS if rng.random() < 0.7 else range(-2, 3)
    commands: list[Command] = []
    for _ in range(rng.randint(50, 200)):
        roll = rng.random()
        if roll < 0.72:
            commands.append(
                Place(
                    side=rng.choice(("buy", "sell")),
                    kind=rng.choices(KINDS, KIND_WEIGHTS)[0],
                    offset=rng.choice(offsets),
                    qty=rng.randint(1, 20) if rng.random() < 0.9 else rng.randint(21, 300),
                    owner=rng.choice(OWNERS),
                )
            )
        elif roll < 0.86:
            commands.append(Cancel(pick=rng.randint(-2, 10_000)))
        elif roll < 0.92:
            commands.append(Indicative())
        else:
            commands.append(Advance())
    return step, commands


# The naive reference -------------------------------------------------------------------------


@dataclass
class NaiveOrder:
    id: int
    side: str
    price: Decimal | None  # None: a market order
    protection: Decimal | None  # a market order's collar, or None
    remaining: int
    seq: int
    owner: str | None
    tif: str


def accepts(order: NaiveOrder, price: Decimal) -> bool:
    """Whether the order trades at `price`: within its limit, or within its collar."""
    bound = order.price if order.price is not None else order.protection
    if bound is None:
        return True
    return price <= bound if order.side == "buy" else price >= bound


def better_first(order: NaiveOrder) -> Decimal:
    """A sort key that puts the better limit first on either side."""
    assert order.price is not None
    return -order.price if order.side == "buy" else order.price


@dataclass
class NaiveAuction:
    price: Decimal | None
    volume: int
    surplus: int
    surplus_side: str | None
    fills: dict[int, int]
    matches: list[tuple[int, int, int]]


def naive_uncross(orders: list[NaiveOrder], reference: Decimal) -> NaiveAuction:
    """MARKET_RULES section 5, one rule at a time, with linear scans."""

    def demand(p: Decimal) -> int:
        return sum(o.remaining for o in orders if o.side == "buy" and accepts(o, p))

    def supply(p: Decimal) -> int:
        return sum(o.remaining for o in orders if o.side == "sell" and accepts(o, p))

    candidates = sorted({o.price for o in orders if o.price is not None})
    quantities = [(p, demand(p), supply(p)) for p in candidates]
    table = [(p, min(buys, sells), buys - sells) for p, buys, sells in quantities]
    best_volume = max((volume for _, volume, _ in table), default=0)
    price: Decimal | None
    if best_volume == 0:
        # docs/engine.md: when no limit price executes, market orders meet at the reference.
        price = reference if min(demand(reference), supply(reference)) > 0 else None
    else:
        # 1. the highest executable volume
        remaining = [(p, s) for p, volume, s in table if volume == best_volume]
        # 2. the smallest absolute surplus
        least = min(abs(s) for _, s in remaining)
        remaining = [(p, s) for p, s in remaining if abs(s) == least]
        prices = [p for p, _ in remaining]
        if all(s > 0 for _, s in remaining):
            # 3. market pressure: buyers want more at every price left: the highest
            price = max(prices)
        elif all(s < 0 for _, s in remaining):
            price = min(prices)
        else:
            # 4. the reference price within the range
            low, high = min(prices), max(prices)
            buy_surplus = [p for p, s in remaining if s > 0]
            sell_surplus = [p for p, s in remaining if s < 0]
            if buy_surplus and sell_surplus:
                low, high = max(buy_surplus), min(sell_surplus)
            if low < reference < high:
                price = reference
            elif reference >= high:
                price = high
            else:
                price = low
    if price is None:
        return NaiveAuction(None, 0, 0, None, {}, [])

    volume = min(demand(price), supply(price))
    surplus = demand(price) - supply(price)

    def priority(o: NaiveOrder) -> tuple:
        # Market orders without a collar first; then by price (a collar ranks as a limit at
        # its price, ahead of the limits there); then time.
        if o.price is None and o.protection is None:
            return (0, Decimal(0), 0, o.seq)
        bound = o.price if o.price is not None else o.protection
        assert bound is not None
        return (1, -bound if o.side == "buy" else bound, 0 if o.price is None else 1, o.seq)

    def allocate(side: str) -> list[tuple[int, int]]:
        queue = sorted((o for o in orders if o.side == side and accepts(o, price)), key=priority)
        allocation, left = [], volume
        for o in queue:
            if not left:
                break
            quantity = min(o.remaining, left)
            allocation.append((o.id, quantity))
            left -= quantity
        assert left == 0
        return allocation

    buys, sells = allocate("buy"), allocate("sell")
    # Pair them share by share, in allocation order, merging runs into one trade per pair.
    buy_units = [order_id for order_id, quantity in buys for _ in range(quantity)]
    sell_units = [order_id for order_id, quantity in sells for _ in range(quantity)]
    matches: list[tuple[int, int, int]] = []
    for pair in zip(buy_units, sell_units, strict=True):
        if matches and matches[-1][:2] == pair:
            matches[-1] = (*pair, matches[-1][2] + 1)
        else:
            matches.append((*pair, 1))
    return NaiveAuction(
        price=price,
        volume=volume,
        surplus=surplus,
        surplus_side="buy" if surplus > 0 else "sell" if surplus < 0 else None,
        fills=dict(buys + sells),
        matches=matches,
    )


@dataclass
class NaiveMarket:
    """Every open order in one list; every question a scan of it."""

    orders: list[NaiveOrder] = field(default_factory=list)
    reference: Decimal = LISTING_PRICE

    def opposite(self, order: NaiveOrder) -> list[NaiveOrder]:
        return [o for o in self.orders if o.side != order.side]

    def reaches(self, order: NaiveOrder, resting: NaiveOrder) -> bool:
        """Whether the incoming order accepts the resting one's limit."""
        assert resting.price is not None
        return accepts(order, resting.price)

    def self_trades_continuous(self, order: NaiveOrder) -> bool:
        return order.owner is not None and any(
            o.owner == order.owner and self.reaches(order, o) for o in self.opposite(order)
        )

    def self_trades_in_call(self, order: NaiveOrder) -> bool:
        """In a call phase (market/services/orders.py _check_self_trade): the owner's opposite
        limits within reach, and any of the owner's opposite market orders waiting."""
        return order.owner is not None and any(
            o.owner == order.owner and (o.price is None or self.reaches(order, o))
            for o in self.opposite(order)
        )

    def match(self, order: NaiveOrder) -> list[tuple[int, int, Decimal, int]]:
        """Continuous trading: the best opposite price first, oldest first there, each trade at
        the resting order's price, while the incoming order's limit (or collar) allows."""
        fills = []
        for resting in sorted(self.opposite(order), key=lambda o: (better_first(o), o.seq)):
            if not order.remaining or not self.reaches(order, resting):
                break
            quantity = min(order.remaining, resting.remaining)
            assert resting.price is not None
            fills.append((order.id, resting.id, resting.price, quantity))
            order.remaining -= quantity
            resting.remaining -= quantity
            self.reference = resting.price
        self.orders = [o for o in self.orders if o.remaining]
        if order.remaining and order.price is not None and order.tif != "ioc":
            self.orders.append(order)
        return fills

    def cancel(self, order_id: int) -> bool:
        kept = [o for o in self.orders if o.id != order_id]
        cancelled = len(kept) < len(self.orders)
        self.orders = kept
        return cancelled

    def auction(self, expire_day_orders: bool) -> NaiveAuction:
        result = naive_uncross(self.orders, self.reference)
        for o in self.orders:
            o.remaining -= result.fills.get(o.id, 0)
        if result.volume:
            assert result.price is not None
            self.reference = result.price
        # Market orders live for one auction; day orders end with the closing auction.
        self.orders = [
            o
            for o in self.orders
            if o.remaining and o.price is not None and not (expire_day_orders and o.tif == "day")
        ]
        return result

    def depth(self, side: str) -> list[tuple[Decimal, int, int]]:
        levels: dict[Decimal, tuple[int, int]] = {}
        for o in sorted((o for o in self.orders if o.side == side), key=better_first):
            assert o.price is not None
            quantity, count = levels.get(o.price, (0, 0))
            levels[o.price] = (quantity + o.remaining, count + 1)
        return [(price, quantity, count) for price, (quantity, count) in levels.items()]

    def queue(self) -> list[tuple[int, int]]:
        """(id, remaining) of the open orders: bids then asks, best price and oldest first."""
        return [
            (o.id, o.remaining)
            for side in ("buy", "sell")
            for o in sorted(
                (o for o in self.orders if o.side == side), key=lambda o: (better_first(o), o.seq)
            )
        ]

    def is_crossed(self) -> bool:
        bids = [o.price for o in self.orders if o.side == "buy" and o.price is not None]
        asks = [o.price for o in self.orders if o.side == "sell" and o.price is not None]
        return bool(bids and asks and max(bids) >= min(asks))


# The engine, driven as the services drive it -------------------------------------------------


class EngineMarket:
    def __init__(self) -> None:
        self.book = OrderBook()  # continuous trading
        self.call: list[Order] = []  # the call phases' collected orders
        self.reference = LISTING_PRICE

    def to_call(self) -> None:
        """Continuous -> closing call: the book's orders wait for the auction."""
        self.call = list(self.book.orders())
        self.book = OrderBook()

    def auction(self, expire_day_orders: bool):
        result = uncross(self.call, self.reference)
        for order in self.call:
            order.remaining -= result.fills.get(order.id, 0)
        if result.volume:
            assert result.price is not None
            self.reference = result.price
        self.call = [
            order
            for order in self.call
            if order.remaining
            and order.price is not None
            and not (expire_day_orders and order.tif == "day")
        ]
        return result

    def to_continuous(self) -> None:
        """After the opening auction the services load the book from what is left; a crossed
        rest would raise here."""
        self.book = OrderBook()
        for order in self.call:
            self.book.add_resting(order)
        self.call = []


def protection_price(reference: Decimal, side: str) -> Decimal:
    """MARKET_RULES section 3: buys reference x 1.1 rounded down, sells x 0.9 rounded up."""
    if side == "buy":
        return max(TICK, (reference * (1 + PROTECTION_RATE)).quantize(TICK, ROUND_FLOOR))
    return max(TICK, (reference * (1 - PROTECTION_RATE)).quantize(TICK, ROUND_CEILING))


def assert_auctions_agree(result, expected: NaiveAuction) -> None:
    assert (result.price, result.volume, result.surplus, result.surplus_side) == (
        expected.price,
        expected.volume,
        expected.surplus,
        expected.surplus_side,
    )
    assert result.fills == expected.fills
    assert [tuple(match) for match in result.matches] == expected.matches


def run_session(step: Decimal, commands: list[Command]) -> dict[str, int]:
    """Run the commands through both markets, comparing after every step. Returns counts of
    what happened, so that callers can check the sessions exercised what they should."""
    naive = NaiveMarket()
    engine = EngineMarket()
    phase = PRE_OPEN
    placed: list[int] = []
    seen = dict.fromkeys(
        ["fills", "auction_trades", "self_trades", "cancels", "rejected_ioc", "auctions"], 0
    )
    for number, command in enumerate(commands, start=1):
        if isinstance(command, Place):
            price = LISTING_PRICE + command.offset * step
            is_market = command.kind in ("market", "unbounded")
            protection = (
                protection_price(naive.reference, command.side)
                if command.kind == "market"
                else None
            )
            tif = command.kind if command.kind in ("day", "gtc", "ioc") else "day"
            if phase in CALL_PHASES and tif == "ioc":
                seen["rejected_ioc"] += 1  # ioc is for continuous trading only
                continue
            limit = None if is_market else price
            naive_order = NaiveOrder(
                number, command.side, limit, protection, command.qty, number, command.owner, tif
            )
            order = Order(
                number,
                command.side,
                command.qty,
                limit,
                seq=number,
                owner=command.owner,
                tif="ioc" if is_market and phase == CONTINUOUS else tif,
                protection_price=protection,
            )
            if phase == CONTINUOUS:
                would = naive.self_trades_continuous(naive_order)
                assert engine.book.would_self_trade(order) == would
                if would:
                    seen["self_trades"] += 1
                    with pytest.raises(SelfTradeError):  # and nothing changes, checked below
                        engine.book.submit(order)
                    continue
                fills = engine.book.submit(order)
                expected = naive.match(naive_order)
                assert [tuple(fill) for fill in fills] == expected
                assert order.remaining == naive_order.remaining
                if fills:
                    engine.reference = fills[-1].price
                seen["fills"] += len(fills)
            else:
                if naive.self_trades_in_call(naive_order):
                    seen["self_trades"] += 1
                    continue
                naive.orders.append(naive_order)
                engine.call.append(order)
            placed.append(number)
        elif isinstance(command, Cancel):
            order_id = placed[command.pick % len(placed)] if placed and command.pick >= 0 else -1
            expected_cancel = naive.cancel(order_id)
            if phase == CONTINUOUS:
                cancelled = engine.book.cancel(order_id)
                assert (cancelled is not None) == expected_cancel
                assert cancelled is None or cancelled.id == order_id
            else:
                kept = [order for order in engine.call if order.id != order_id]
                assert (len(kept) < len(engine.call)) == expected_cancel
                engine.call = kept
            seen["cancels"] += expected_cancel
        elif isinstance(command, Indicative):
            if phase in CALL_PHASES:
                assert_auctions_agree(
                    uncross(engine.call, engine.reference),
                    naive_uncross(naive.orders, naive.reference),
                )
        elif phase == CONTINUOUS:
            engine.book.check_invariants()
            phase = CLOSING_CALL
            engine.to_call()
        else:
            closing = phase == CLOSING_CALL
            result = engine.auction(expire_day_orders=closing)
            expected_auction = naive.auction(expire_day_orders=closing)
            assert_auctions_agree(result, expected_auction)
            seen["auctions"] += 1
            seen["auction_trades"] += len(result.matches)
            assert not naive.is_crossed(), "the orders left after an auction cross"
            if closing:
                phase = PRE_OPEN
            else:
                phase = CONTINUOUS
                engine.to_continuous()
                engine.book.check_invariants()

        assert engine.reference == naive.reference
        if phase == CONTINUOUS:
            if number % INVARIANTS_EVERY == 0:
                # Every step compares the whole book with the reference below; the engine's own
                # consistency check formats a message per order, so it runs every few steps.
                engine.book.check_invariants()
            bids, asks = engine.book.depth(levels=len(PRICE_OFFSETS) + 1)
            assert (bids, asks) == (naive.depth("buy"), naive.depth("sell"))
            assert [(order.id, order.remaining) for order in engine.book.orders()] == naive.queue()
        else:
            assert {(order.id, order.remaining) for order in engine.call} == {
                (order.id, order.remaining) for order in naive.orders
            }
    return seen


def test_engine_and_naive_reference_agree_on_thousands_of_seeded_sessions():
    totals = dict.fromkeys(
        ["fills", "auction_trades", "self_trades", "cancels", "rejected_ioc", "auctions"], 0
    )
    for seed in SEEDS:
        step, commands = random_session(seed)
        try:
            seen = run_session(step, commands)
        except AssertionError as error:
            raise AssertionError(f"seed {seed}: {error}") from error
        for name, count in seen.items():
            totals[name] += count

    # The sessions exercised every path, plenty of times.
    assert all(count > 1_000 for count in totals.values()), totals


# The same sessions drawn by hypothesis, which shrinks a failure to a short reproduction.

places = st.builds(
    Place,
    side=st.sampled_from(["buy", "sell"]),
    kind=st.sampled_from(KINDS),
    offset=st.sampled_from(PRICE_OFFSETS),
    qty=st.integers(1, 25),
    owner=st.sampled_from(OWNERS),
)
commands = st.one_of(
    places,
    places,
    places,
    st.builds(Cancel, pick=st.integers(-1, 50)),
    st.builds(Indicative),
    st.builds(Advance),
)


@settings(max_examples=300, deadline=None)
@given(step=st.sampled_from(PRICE_STEPS), session=st.lists(commands, max_size=80))
def test_engine_and_naive_reference_agree_on_generated_sessions(step, session):
    run_session(step, session)
