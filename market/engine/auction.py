"""The call auction: one uniform price for the orders collected (MARKET_RULES section 5)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate
from operator import attrgetter
from typing import NamedTuple

from .orders import BUY, SELL, Order, SelfTradeError, to_price, to_ticks

_by_seq = attrgetter("seq")
_by_id = attrgetter("id")
_by_remaining = attrgetter("remaining")
# Builds a Match without the namedtuple's Python-level __new__, once per trade of the auction.
_new_match = tuple.__new__


class Match(NamedTuple):
    """`qty` shares pass from the sell order to the buy order at the auction price."""

    buy_id: Hashable
    sell_id: Hashable
    qty: int


@dataclass(frozen=True, slots=True)
class AuctionResult:
    """What an uncross decides. With no cross: price None, volume 0 and nothing filled.

    `surplus` is demand - supply at the price (`surplus_side` "buy", "sell" or None); `fills`
    maps each order that trades to its quantity; `matches` pairs buys with sells in allocation
    order, one trade each.
    """

    price: Decimal | None
    volume: int
    surplus: int
    surplus_side: str | None
    fills: dict[Hashable, int]
    matches: list[Match]


def uncross(orders: Iterable[Order], reference_price: Decimal) -> AuctionResult:
    """Run the call auction over `orders` (their `remaining` quantities; nothing is mutated).

    The price maximises executable volume, then minimises the surplus, then follows market
    pressure, then the reference price. A market order counts at a price only within its
    protection price. When no limit price can execute, market orders meet at the reference price.
    """
    return _call_auction(orders, reference_price, allocate=True)


def indicative(orders: Iterable[Order], reference_price: Decimal) -> AuctionResult:
    """The auction as it would run now, as the call phases publish it: its price, volume and
    surplus, without allocating (`fills` and `matches` empty).

    They depend only on each side's quantity at each limit or protection price, and on the
    unbounded market orders' total, so `orders` may be price levels: one order per side and
    price with the level's whole quantity (what the service reads from a deep book)."""
    return _call_auction(orders, reference_price, allocate=False)


def uncross_at(orders: Iterable[Order], price: Decimal | None) -> AuctionResult:
    """Run the call auction at `price`, found beforehand: `indicative(levels).price` of the
    whole book's price levels (None: no cross, and nothing fills).

    Only the orders that accept the price take part in the allocation, so `orders` need hold
    only those, and may hold any others: the result is then `uncross` of the whole book. A deep
    book's service reads the levels, then a tenth of its orders. Raises ValueError when nothing
    executes at the price (it is not the book's auction price)."""
    call = _CallBook(orders)
    if price is None:
        return _result(call, None, allocate=True)
    price_ticks = to_ticks(price, "price")
    if not min(call.demand(price_ticks), call.supply(price_ticks)):
        raise ValueError(f"nothing executes at {price}: not the auction price of these orders")
    return _result(call, price_ticks, allocate=True)


def _call_auction(
    orders: Iterable[Order], reference_price: Decimal, *, allocate: bool
) -> AuctionResult:
    reference_ticks = to_ticks(reference_price, "reference_price")
    call = _CallBook(orders)
    return _result(call, _auction_price(call, reference_ticks), allocate=allocate)


def _result(call: _CallBook, price_ticks: int | None, *, allocate: bool) -> AuctionResult:
    if price_ticks is None:
        return AuctionResult(
            price=None, volume=0, surplus=0, surplus_side=None, fills={}, matches=[]
        )
    demand, supply = call.demand(price_ticks), call.supply(price_ticks)
    volume = min(demand, supply)
    fills, matches = _allocate(call, price_ticks, volume) if allocate else ({}, [])
    surplus = demand - supply
    return AuctionResult(
        price=to_price(price_ticks),
        volume=volume,
        surplus=surplus,
        surplus_side=BUY if surplus > 0 else SELL if surplus < 0 else None,
        fills=fills,
        matches=matches,
    )


class _CallBook:
    """The orders of one auction in priority queues, and cumulative quantities to read demand
    and supply at any price.

    Per side: market orders without a protection price come first, by time. Then one queue per
    price, best first, each holding the market orders protected at that price, by time, then
    the limit orders there, by time. So a protection price ranks a market order as a limit at
    that price (MARKET_RULES section 3) and ahead of the limits there. Ranked ahead of better
    limits, it could leave one of them unfilled while a buy that the auction price shuts out
    bids as much: the book after the auction would be crossed.
    """

    def __init__(self, orders: Iterable[Order]) -> None:
        # Sorting by seq settles time priority once; orders usually arrive sorted, which
        # Python's sort handles in linear time.
        ordered = sorted(orders, key=_by_seq)
        if len(set(map(_by_id, ordered))) != len(ordered):
            raise ValueError("order ids must be unique")
        if ordered and min(map(_by_remaining, ordered)) <= 0:
            raise ValueError("every order needs something left to fill")
        self.unbounded_buys: list[Order] = []
        self.unbounded_sells: list[Order] = []
        buy_limits: defaultdict[int, list[Order]] = defaultdict(list)
        sell_limits: defaultdict[int, list[Order]] = defaultdict(list)
        buy_collars: defaultdict[int, list[Order]] = defaultdict(list)
        sell_collars: defaultdict[int, list[Order]] = defaultdict(list)
        for order in ordered:
            is_buy = order.side == BUY
            if order.price is not None:
                (buy_limits if is_buy else sell_limits)[order.limit_ticks].append(order)
            elif order.protection_price is not None:
                (buy_collars if is_buy else sell_collars)[order.limit_ticks].append(order)
            else:
                (self.unbounded_buys if is_buy else self.unbounded_sells).append(order)
        # The candidate prices are the limits: protection prices only bound market orders.
        self.candidates = sorted(buy_limits.keys() | sell_limits.keys())
        self.buy_queues_by_price = _queues_by_price(buy_collars, buy_limits)
        self.sell_queues_by_price = _queues_by_price(sell_collars, sell_limits)

        buy_quantities = _quantities(self.unbounded_buys, self.buy_queues_by_price)
        self._buy_ticks = sorted(buy_quantities)
        # _demand_from[i]: quantity of the buys accepting _buy_ticks[i] or more; 0 past the end.
        self._demand_from = [
            *reversed(list(accumulate(buy_quantities[t] for t in reversed(self._buy_ticks)))),
            0,
        ]
        sell_quantities = _quantities(self.unbounded_sells, self.sell_queues_by_price)
        self._sell_ticks = sorted(sell_quantities)
        # _supply_upto[i]: quantity of the sells accepting the i lowest _sell_ticks.
        self._supply_upto = list(
            accumulate((sell_quantities[t] for t in self._sell_ticks), initial=0)
        )

    def demand(self, ticks: int) -> int:
        """Quantity of buys willing to pay `ticks` or more."""
        return self._demand_from[bisect_left(self._buy_ticks, ticks)]

    def supply(self, ticks: int) -> int:
        """Quantity of sells willing to sell at `ticks` or less."""
        return self._supply_upto[bisect_right(self._sell_ticks, ticks)]

    def buy_queues(self, ticks: int) -> Iterator[list[Order]]:
        """The queues of buys that accept `ticks`, in priority order."""
        yield self.unbounded_buys
        for price in sorted(self.buy_queues_by_price, reverse=True):
            if price < ticks:
                return
            yield self.buy_queues_by_price[price]

    def sell_queues(self, ticks: int) -> Iterator[list[Order]]:
        """The queues of sells that accept `ticks`, in priority order."""
        yield self.unbounded_sells
        for price in sorted(self.sell_queues_by_price):
            if price > ticks:
                return
            yield self.sell_queues_by_price[price]


def _queues_by_price(
    collars: dict[int, list[Order]], limits: dict[int, list[Order]]
) -> dict[int, list[Order]]:
    """One queue per price: the market orders protected there, then the limit orders."""
    queues = dict(limits)
    for ticks, market_orders in collars.items():
        queues[ticks] = market_orders + limits.get(ticks, [])
    return queues


def _quantities(unbounded: list[Order], queues: dict[int, list[Order]]) -> dict[int, int]:
    """Quantity by the worst price the orders accept, counting the market orders without a
    protection price at their unbounded sentinel, beyond every real price."""
    quantities = {ticks: sum(map(_by_remaining, queue)) for ticks, queue in queues.items()}
    if unbounded:
        quantities[unbounded[0].limit_ticks] = sum(map(_by_remaining, unbounded))
    return quantities


def _auction_price(call: _CallBook, reference_ticks: int) -> int | None:
    """The auction price in ticks by the rules of MARKET_RULES section 5, or None: no cross."""
    best_volume = 0
    tied: list[tuple[int, int]] = []  # (candidate ticks, surplus) at the best volume, ascending
    for ticks in call.candidates:
        demand = call.demand(ticks)
        supply = call.supply(ticks)
        volume = min(demand, supply)
        if volume > best_volume:
            best_volume = volume
            tied = [(ticks, demand - supply)]
        elif volume == best_volume and volume:
            tied.append((ticks, demand - supply))

    if not best_volume:
        # No limit price executes, so only market orders can meet, at the reference price.
        executable = min(call.demand(reference_ticks), call.supply(reference_ticks))
        return reference_ticks if executable else None

    least_surplus = min(abs(surplus) for _, surplus in tied)
    tied = [(ticks, surplus) for ticks, surplus in tied if abs(surplus) == least_surplus]
    if all(surplus > 0 for _, surplus in tied):
        return tied[-1][0]
    if all(surplus < 0 for _, surplus in tied):
        return tied[0][0]

    low, high = tied[0][0], tied[-1][0]
    if least_surplus:
        # Surpluses on both sides. A surplus falls as the price rises, so the buy surpluses sit
        # at the lower candidates: the range runs from the highest of those to the lowest
        # candidate with a sell surplus.
        low = max(ticks for ticks, surplus in tied if surplus > 0)
        high = min(ticks for ticks, surplus in tied if surplus < 0)
    if reference_ticks >= high:
        return high
    if reference_ticks <= low:
        return low
    return reference_ticks


def _allocate(
    call: _CallBook, price_ticks: int, volume: int
) -> tuple[dict[Hashable, int], list[Match]]:
    """Each trading order's quantity and the buy-sell pairs, for `volume` at the price."""
    buys, buy_quantities = _fill_in_priority(call.buy_queues(price_ticks), volume)
    sells, sell_quantities = _fill_in_priority(call.sell_queues(price_ticks), volume)
    fills = dict(zip(map(_by_id, buys), buy_quantities, strict=True))
    fills.update(zip(map(_by_id, sells), sell_quantities, strict=True))
    return fills, _pair(buys, buy_quantities, sells, sell_quantities)


def _fill_in_priority(queues: Iterator[list[Order]], volume: int) -> tuple[list[Order], list[int]]:
    """Fill orders in priority order until `volume` is reached: every order fills completely
    but the last one reached, which may fill partly. Returns the orders and their quantities
    as two lists, which costs far less than a tuple per order."""
    orders: list[Order] = []
    quantities: list[int] = []
    left = volume
    for queue in queues:
        total = sum(map(_by_remaining, queue))
        if total < left:
            orders += queue
            quantities += map(_by_remaining, queue)
            left -= total
            continue
        for order in queue:
            orders.append(order)
            if order.remaining >= left:
                quantities.append(left)
                return orders, quantities
            quantities.append(order.remaining)
            left -= order.remaining
    raise AssertionError("fewer orders accept the price than its volume")


def _pair(
    buys: list[Order], buy_quantities: list[int], sells: list[Order], sell_quantities: list[int]
) -> list[Match]:
    """Walk both allocations in priority order: each buy takes from the next sells in turn.
    Both sides add up to the volume, so they run out together."""
    matches: list[Match] = []
    sell_index = 0
    sell_left = sell_quantities[0]
    for buy, buy_left in zip(buys, buy_quantities, strict=True):
        while buy_left:
            sell = sells[sell_index]
            if buy.owner is not None and buy.owner == sell.owner:
                raise SelfTradeError(f"orders {buy.id!r} and {sell.id!r} have the same owner")
            quantity = buy_left if buy_left < sell_left else sell_left
            matches.append(_new_match(Match, (buy.id, sell.id, quantity)))
            buy_left -= quantity
            sell_left -= quantity
            if not sell_left and sell_index + 1 < len(sells):
                sell_index += 1
                sell_left = sell_quantities[sell_index]
    return matches
