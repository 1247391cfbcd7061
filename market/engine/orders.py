"""The engine's value types: orders and fills, and the price <-> tick conversion.

Prices cross the interface as `Decimal` and are integer ticks (cents) inside: comparing ints is
several times faster than comparing Decimals, and the matching loops compare prices constantly.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable
from decimal import MAX_PREC, Context, Decimal
from typing import Final, NamedTuple

BUY: Final = "buy"
SELL: Final = "sell"
DAY: Final = "day"
GTC: Final = "gtc"
IOC: Final = "ioc"
SIDES: Final = frozenset((BUY, SELL))
TIMES_IN_FORCE: Final = frozenset((DAY, GTC, IOC))

TICKS_PER_UNIT: Final = 100
# Conversions are exact whatever decimal context the caller has set.
_EXACT: Final = Context(prec=MAX_PREC)
# Worst prices a market order without a protection price accepts: beyond every real tick.
UNBOUNDED_BUY_TICKS: Final = sys.maxsize
UNBOUNDED_SELL_TICKS: Final = 0


class SelfTradeError(ValueError):
    """An order would trade with a resting order of the same owner.

    The service rejects such orders first (`OrderBook.would_self_trade`); reaching the engine
    with one is a bug.
    """


class Fill(NamedTuple):
    """One continuous trade: the incoming order took `qty` from a resting order at its price."""

    taker_id: Hashable
    maker_id: Hashable
    price: Decimal
    qty: int


def to_price(ticks: int) -> Decimal:
    """The 2-place Decimal price of a tick count."""
    return Decimal(ticks).scaleb(-2, _EXACT)


def to_ticks(price: object, name: str = "price") -> int:
    """The tick count of a positive Decimal price on the 0.01 tick; ValueError otherwise."""
    return _parse_price(price, name)[0]


def _parse_price(price: object, name: str) -> tuple[int, Decimal]:
    # The type is checked before the cache: an int or float equal to a cached Decimal would
    # otherwise slip through on its hash.
    if type(price) is not Decimal:
        raise ValueError(f"{name} must be a Decimal, not {price!r}")
    try:
        return _parsed_prices[price]
    except (KeyError, TypeError):  # TypeError: a signalling NaN cannot be hashed
        return _parse_new_price(price, name)


# A book sees a few hundred distinct prices, while converting a Decimal costs as much as resting
# an order: conversions are remembered. Equal Decimals (100.0 and 100.00) share an entry, which
# is right, as both get the canonical 2-place form back. A plain dict, cleared when full, is
# several times faster to read than functools.lru_cache.
_parsed_prices: dict[Decimal, tuple[int, Decimal]] = {}
_PARSED_PRICES_LIMIT: Final = 65_536


def _parse_new_price(price: Decimal, name: str) -> tuple[int, Decimal]:
    if not price.is_finite():
        raise ValueError(f"{name} must be finite, not {price!r}")
    numerator, denominator = price.as_integer_ratio()
    ticks, off_tick = divmod(numerator * TICKS_PER_UNIT, denominator)
    if off_tick or ticks <= 0:
        raise ValueError(f"{name} {price} is not a positive multiple of the 0.01 tick")
    if len(_parsed_prices) >= _PARSED_PRICES_LIMIT:
        _parsed_prices.clear()
    parsed = _parsed_prices[price] = ticks, to_price(ticks)
    return parsed


class Order:
    """An order as the engine sees it.

    `price` is the limit, or None for a market order, whose optional `protection_price` bounds
    the prices it trades at. `seq` sets time priority (lower is earlier). The engine lowers
    `remaining` as the order fills; an order takes part in matching and auctions with its
    `remaining` quantity. `limit_ticks` is the worst price the order accepts, in ticks.
    """

    __slots__ = (
        "id",
        "limit_ticks",
        "owner",
        "price",
        "protection_price",
        "qty",
        "remaining",
        "seq",
        "side",
        "tif",
    )

    def __init__(
        self,
        id: Hashable,
        side: str,
        qty: int,
        price: Decimal | None = None,
        seq: int = 0,
        owner: Hashable | None = None,
        tif: str = DAY,
        *,
        protection_price: Decimal | None = None,
    ) -> None:
        if side not in SIDES:
            raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
        if tif not in TIMES_IN_FORCE:
            raise ValueError(f"tif must be 'day', 'gtc' or 'ioc', not {tif!r}")
        if type(qty) is not int or qty <= 0:
            raise ValueError(f"qty must be a positive int, not {qty!r}")
        if price is not None:
            if protection_price is not None:
                raise ValueError("a limit order has no protection price")
            self.limit_ticks, price = _parse_price(price, "price")
        elif protection_price is not None:
            self.limit_ticks, protection_price = _parse_price(protection_price, "protection_price")
        else:
            self.limit_ticks = UNBOUNDED_BUY_TICKS if side == BUY else UNBOUNDED_SELL_TICKS
        self.id = id
        self.side = side
        self.qty = qty
        self.price = price
        self.seq = seq
        self.owner = owner
        self.tif = tif
        self.protection_price = protection_price
        self.remaining = qty

    @property
    def is_market(self) -> bool:
        return self.price is None

    def __repr__(self) -> str:
        return (
            f"Order(id={self.id!r}, side={self.side!r}, qty={self.qty}, price={self.price!r}, "
            f"seq={self.seq}, owner={self.owner!r}, tif={self.tif!r}, "
            f"protection_price={self.protection_price!r}, remaining={self.remaining})"
        )
