"""Money arithmetic: ticks, quantization and fees. Pure functions over Decimal, no floats.

Rounding modes are named at each call: fees round half-up (MARKET_RULES section 2), cash
reservations round up so that a reservation always covers what the order can cost.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
TICK = CENT
ZERO = Decimal("0.00")


# ASCII digits only: `\d` would also take fullwidth or Arabic-Indic digits, which Decimal reads.
PLAIN_DECIMAL = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,10})?$")


def to_decimal(value: object) -> Decimal:
    """A Decimal from a plain decimal string ("98.50"), an int or a Decimal. Floats are refused
    (they cannot hold cents), and so are exponents ("1e3") and other spellings in strings."""
    if isinstance(value, float | bool):
        raise TypeError("money is never a float; pass a string such as '98.50'")
    if isinstance(value, str) and not PLAIN_DECIMAL.match(value.strip()):
        raise ValueError(f"not a plain decimal number: {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as error:
        raise ValueError(f"not a number: {value!r}") from error
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def cents(amount: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Quantize to the cent with the given rounding mode."""
    return amount.quantize(CENT, rounding=rounding)


def is_on_tick(price: Decimal) -> bool:
    return price == price.quantize(TICK)


def notional(price: Decimal, quantity: int) -> Decimal:
    return cents(price * quantity)


def commission(notional_amount: Decimal, rate: Decimal, share: Decimal) -> Decimal:
    """One side's fee on a trade: `share` of `rate` x notional, rounded half-up to the cent."""
    return cents(notional_amount * rate * share, ROUND_HALF_UP)


def buy_reservation(price: Decimal, quantity: int, buyer_rate: Decimal) -> Decimal:
    """Cash a buy order locks: quantity x price plus the buyer's fee, rounded up to the cent."""
    amount = price * quantity
    return cents(amount, ROUND_CEILING) + cents(amount * buyer_rate, ROUND_CEILING)


def protection_price(reference: Decimal, side: str, rate: Decimal) -> Decimal:
    """A market order's collar: buys reference x (1 + rate) rounded down to the tick, sells
    reference x (1 - rate) rounded up, and never below one tick."""
    if side == "buy":
        return max(TICK, (reference * (1 + rate)).quantize(TICK, rounding=ROUND_FLOOR))
    return max(TICK, (reference * (1 - rate)).quantize(TICK, rounding=ROUND_CEILING))
