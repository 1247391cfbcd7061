"""The continuous order book: price-time priority matching (MARKET_RULES section 6)."""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right, insort
from collections.abc import Hashable, Iterator
from decimal import Decimal
from itertools import islice
from typing import NoReturn

from .orders import BUY, IOC, SELL, Fill, Order, SelfTradeError

PriceLevel = tuple[Decimal, int, int]

# Price levels are keyed so that the better one has the larger key: bids by ticks, asks by minus
# ticks. One matching loop then serves both sides: an incoming order's limit key is minus the
# key it would rest at, and it crosses an opposite level with key K exactly when K >= that.
BID_SIGN = 1
ASK_SIGN = -1
# The best key of an empty side: below every limit key, so nothing crosses it.
_EMPTY = -sys.maxsize - 2
# Builds a Fill without the namedtuple's Python-level __new__: a third of the cost of a fill.
_new_fill = tuple.__new__


class _Level:
    """The resting orders at one price, oldest first, and their total remaining quantity."""

    __slots__ = ("orders", "price", "qty")

    def __init__(self, price: Decimal) -> None:
        self.price = price
        # A dict keeps insertion (time) order and removes any order by id in O(1).
        self.orders: dict[Hashable, Order] = {}
        self.qty = 0

    def insert_in_time_order(self, order: Order) -> None:
        """Queue an order older than the newest one here: O(orders at the level), and only
        needed when resting orders arrive out of seq order, as when a book is loaded."""
        queue = list(self.orders.values())
        queue.insert(bisect_right(queue, order.seq, key=_seq), order)
        self.orders = {queued.id: queued for queued in queue}


def _seq(order: Order) -> int:
    return order.seq


class _Owned:
    """One owner's resting orders on one side: how many rest at each key, and the best key,
    which is all would_self_trade needs."""

    __slots__ = ("best", "counts")

    def __init__(self, key: int) -> None:
        self.counts = {key: 1}
        self.best = key


class _Side:
    """One side of the book: its price levels by key, the keys in a sorted list, and its
    resting orders' owners.

    A plain list, not a sortedcontainers.SortedList: levels come and go at the best price all
    the time, and there, at the end of a list, adding or removing one is a C-level append or
    pop, where SortedList's bookkeeping costs about 2 us (15% of the benchmark's throughput). A
    level added deeper in the book costs a memmove of the better levels' keys, which stays below
    a SortedList insertion up to about 5,000 levels on one side (docs/engine.md).
    """

    __slots__ = ("best", "keys", "levels", "owners", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.keys: list[int] = []  # ascending: the best level is the last
        self.levels: dict[int, _Level] = {}
        # keys[-1], or _EMPTY: read for every order, so kept as a plain attribute.
        self.best = _EMPTY
        # Owner -> the prices of that owner's orders here, for would_self_trade.
        self.owners: dict[Hashable, _Owned] = {}

    def add_level(self, key: int, price: Decimal) -> _Level:
        level = self.levels[key] = _Level(price)
        if key > self.best:
            self.keys.append(key)
            self.best = key
        else:
            insort(self.keys, key)
        return level

    def remove_level(self, key: int) -> None:
        del self.levels[key]
        keys = self.keys
        if key == self.best:
            keys.pop()
            self.best = keys[-1] if keys else _EMPTY
        else:
            del keys[bisect_left(keys, key)]

    def best_level(self) -> tuple[Decimal, int] | None:
        if self.best == _EMPTY:
            return None
        level = self.levels[self.best]
        return level.price, level.qty

    def levels_best_first(self) -> Iterator[_Level]:
        levels = self.levels
        return (levels[key] for key in reversed(self.keys))

    def depth(self, count: int) -> list[PriceLevel]:
        return [
            (level.price, level.qty, len(level.orders))
            for level in islice(self.levels_best_first(), count)
        ]

    def add_owned(self, owner: Hashable, key: int) -> None:
        owned = self.owners.get(owner)
        if owned is None:
            self.owners[owner] = _Owned(key)
            return
        owned.counts[key] = owned.counts.get(key, 0) + 1
        if key > owned.best:
            owned.best = key

    def remove_owned(self, owner: Hashable, key: int) -> None:
        owned = self.owners[owner]
        counts = owned.counts
        left = counts.pop(key) - 1
        if left:
            counts[key] = left
        elif not counts:
            del self.owners[owner]
        elif key == owned.best:
            # O(the owner's prices), and only when the last order at the owner's best goes.
            owned.best = max(counts)


class OrderBook:
    """One instrument's resting orders and the continuous matching of incoming ones.

    Commands in, fills out: no I/O, clock or randomness, so the same commands always give the
    same fills. Time priority comes from each order's `seq`.
    """

    __slots__ = ("_asks", "_bids", "_latest_seq", "_orders")

    def __init__(self) -> None:
        self._bids = _Side(BID_SIGN)
        self._asks = _Side(ASK_SIGN)
        self._orders: dict[Hashable, Order] = {}
        # No resting order has a higher seq: an order at or above it just queues last.
        self._latest_seq = 0

    def __len__(self) -> int:
        return len(self._orders)

    def get(self, order_id: Hashable) -> Order | None:
        return self._orders.get(order_id)

    def orders(self) -> Iterator[Order]:
        """The resting orders: bids then asks, each side best price first, oldest first."""
        for side in (self._bids, self._asks):
            for level in side.levels_best_first():
                yield from level.orders.values()

    def best_bid(self) -> tuple[Decimal, int] | None:
        """(price, quantity) of the best bid level, or None."""
        return self._bids.best_level()

    def best_ask(self) -> tuple[Decimal, int] | None:
        """(price, quantity) of the best ask level, or None."""
        return self._asks.best_level()

    def depth(self, levels: int = 10) -> tuple[list[PriceLevel], list[PriceLevel]]:
        """(bids, asks) as [(price, quantity, order count), ...], best first."""
        if levels < 0:
            raise ValueError(f"levels must not be negative, not {levels}")
        return self._bids.depth(levels), self._asks.depth(levels)

    def would_self_trade(self, order: Order) -> bool:
        """Whether `order` reaches a resting order of the same owner on the other side at a price
        it accepts. Orders without an owner never self-trade."""
        if order.owner is None:
            return False
        if order.side == BUY:
            opposite, limit_key = self._asks, -order.limit_ticks
        else:
            opposite, limit_key = self._bids, order.limit_ticks
        owned = opposite.owners.get(order.owner)
        return owned is not None and owned.best >= limit_key

    def submit(self, order: Order) -> list[Fill]:
        """Match an incoming order, then rest what is left of a day or gtc limit order; what is
        left of an ioc or market order is dropped (its `remaining` tells how much).

        Returns the fills in execution order. Callers reject self-trades first with
        `would_self_trade`; an order that would self-trade raises SelfTradeError, untouched.
        """
        if order.id in self._orders or order.remaining <= 0:
            self._refuse(order)
        if order.owner is not None and self.would_self_trade(order):
            raise SelfTradeError(f"order {order.id!r} would trade with its owner's own order")
        if order.side == BUY:
            opposite, own, limit_key = self._asks, self._bids, -order.limit_ticks
        else:
            opposite, own, limit_key = self._bids, self._asks, order.limit_ticks
        fills = self._take(order, opposite, limit_key) if opposite.best >= limit_key else []
        if order.remaining and order.price is not None and order.tif != IOC:
            self._rest(order, order.price, own, -limit_key)
        return fills

    def add_resting(self, order: Order) -> None:
        """Rest a day or gtc limit order without matching it, as when loading a book from
        storage. Raises ValueError if it would cross the book: a crossed book is a bug."""
        if order.id in self._orders or order.remaining <= 0:
            self._refuse(order)
        if order.price is None or order.tif == IOC:
            raise ValueError(f"only day and gtc limit orders rest, not {order!r}")
        if order.side == BUY:
            opposite, own, limit_key = self._asks, self._bids, -order.limit_ticks
        else:
            opposite, own, limit_key = self._bids, self._asks, order.limit_ticks
        if opposite.best >= limit_key:
            raise ValueError(f"order {order.id!r} would cross the book")
        self._rest(order, order.price, own, -limit_key)

    def cancel(self, order_id: Hashable) -> Order | None:
        """Take a resting order out of the book; None if no such order rests. The order keeps
        its `remaining` quantity, the part that will now never fill."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return None
        side = self._bids if order.side == BUY else self._asks
        key = side.sign * order.limit_ticks
        level = side.levels[key]
        del level.orders[order_id]
        if level.orders:
            level.qty -= order.remaining
        else:
            side.remove_level(key)
        if order.owner is not None:
            side.remove_owned(order.owner, key)
        return order

    def check_invariants(self) -> None:
        """Raise AssertionError if the book is inconsistent. That is always a bug: tests run
        this after every step."""
        resting_count = 0
        for side_name, side in ((BUY, self._bids), (SELL, self._asks)):
            owner_counts: dict[Hashable, dict[int, int]] = {}
            _require(side.keys == sorted(side.levels), f"{side_name} keys out of step")
            _require(side.best == (side.keys[-1] if side.keys else _EMPTY), "best key stale")
            for key, level in side.levels.items():
                _require(level.orders, f"empty {side_name} level {level.price}")
                _require(
                    level.qty == sum(order.remaining for order in level.orders.values()),
                    f"{side_name} level {level.price} total differs from its orders",
                )
                previous_seq = None
                for order_id, order in level.orders.items():
                    _require(self._orders.get(order_id) is order, f"{order!r} not indexed")
                    _require(order.id == order_id, f"{order!r} filed under {order_id!r}")
                    _require(order.side == side_name, f"{order!r} on the wrong side")
                    _require(order.price == level.price, f"{order!r} at level {level.price}")
                    _require(side.sign * order.limit_ticks == key, f"{order!r} mis-keyed")
                    _require(order.remaining > 0, f"{order!r} rests with nothing left")
                    _require(order.tif != IOC, f"{order!r} rests though ioc")
                    _require(
                        previous_seq is None or previous_seq <= order.seq,
                        f"{order!r} out of time order",
                    )
                    previous_seq = order.seq
                    if order.owner is not None:
                        counts = owner_counts.setdefault(order.owner, {})
                        counts[key] = counts.get(key, 0) + 1
                resting_count += len(level.orders)
            owners = side.owners
            _require(
                owner_counts == {owner: owned.counts for owner, owned in owners.items()},
                f"{side_name} owner index out of step",
            )
            _require(
                all(owned.best == max(owned.counts) for owned in owners.values()),
                f"{side_name} owner best key stale",
            )
        _require(resting_count == len(self._orders), "id index holds orders not in the book")
        bids, asks = self._bids, self._asks
        _require(bids.best == _EMPTY or asks.best == _EMPTY or bids.best < -asks.best, "crossed")

    def _refuse(self, order: Order) -> NoReturn:
        if order.id in self._orders:
            raise ValueError(f"order {order.id!r} is already in the book")
        raise ValueError(f"order {order.id!r} has nothing left to fill")

    def _take(self, taker: Order, side: _Side, limit_key: int) -> list[Fill]:
        """Fill the taker against `side` from its best level while the level key reaches
        `limit_key`. This is the hot loop: locals over attributes, no per-fill method calls."""
        fills: list[Fill] = []
        levels = side.levels
        book_orders = self._orders
        taker_id = taker.id
        remaining = taker.remaining
        while True:
            key = side.best
            if key < limit_key:
                break
            level = levels[key]
            price = level.price
            queue = level.orders
            level_start = remaining
            filled: list[Order] = []
            for maker in queue.values():
                quantity = maker.remaining
                if quantity > remaining:
                    maker.remaining = quantity - remaining
                    fills.append(_new_fill(Fill, (taker_id, maker.id, price, remaining)))
                    remaining = 0
                    break
                maker.remaining = 0
                fills.append(_new_fill(Fill, (taker_id, maker.id, price, quantity)))
                filled.append(maker)
                remaining -= quantity
                if not remaining:
                    break
            # Removed after the loop: a dict cannot shrink while it is iterated.
            for maker in filled:
                del queue[maker.id]
                del book_orders[maker.id]
                if maker.owner is not None:
                    side.remove_owned(maker.owner, key)
            if queue:
                level.qty -= level_start - remaining
                break
            side.remove_level(key)
            if not remaining:
                break
        taker.remaining = remaining
        return fills

    def _rest(self, order: Order, price: Decimal, side: _Side, key: int) -> None:
        level = side.levels.get(key)
        if level is None:
            level = side.add_level(key, price)
        if order.seq >= self._latest_seq:
            self._latest_seq = order.seq
            level.orders[order.id] = order
        else:
            level.insert_in_time_order(order)
        level.qty += order.remaining
        self._orders[order.id] = order
        if order.owner is not None:
            side.add_owned(order.owner, key)


def _require(condition: object, message: str) -> None:
    if not condition:
        raise AssertionError(message)
