"""The random order both process races send (tests/market/services/test_concurrency.py and the
fault suite's tests/market/faults/test_trading_race.py): limit orders around $100, some market
orders, day, gtc and ioc."""

from __future__ import annotations

import random
from decimal import Decimal

from market.models import Order
from market.services.orders import order_place


def place_random_order(rng: random.Random, user_id: int, symbols: list[str]) -> Order:
    is_market = rng.random() < 0.1
    return order_place(
        user_id=user_id,
        symbol=rng.choice(symbols),
        side=rng.choice(["buy", "sell"]),
        type="market" if is_market else "limit",
        quantity=rng.randint(1, 20),
        price=None if is_market else str(Decimal(rng.randint(9800, 10200)) / 100),
        time_in_force=rng.choice(["day", "day", "gtc", "ioc"]),
    )
