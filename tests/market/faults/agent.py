"""A Django process of its own for the fault suite: `python -m tests.market.faults.agent CMD`,
with DATABASE_URL (and REDIS_URL) naming the services the test started. Reads a JSON argument on
stdin, prints one JSON line on stdout.

    seed   {"traders", "instruments", "cash"} -> {"symbols", "tokens", "user_ids"} (owners
           first)
    trade  {"user_ids", "symbols", "stop", "seed"} -> what it did: random orders through the
           service layer, in one long-lived process, until the file `stop` exists (it
           creates `<stop>.trading` once its first command is answered)
    check  {"accepted": [order ids]} -> {"books", "lost", "orders", "trades", "unpublished"}
    sweep  {"tries"} -> {"before", "after"}: the relay sweep (what Celery beat runs every 2 s)
    sent   {"streams"} -> {stream: {"last_seq", "messages": [[seq, type, published at], ...]}}:
           what each stream has published (its cursor, and the outbox's numbered rows in
           order, each with its publication time in seconds since the epoch)
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def seed(traders: int, instruments: int, cash: str) -> dict[str, Any]:
    from django.conf import settings
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from market.services.control import market_open
    from market.services.ledger import cash_account_open, cash_deposit
    from market.services.listings import instrument_list
    from tests.market.conftest import make_vin
    from vehicles.models import Vehicle

    assert not settings.MARKET_DEMO_MODE, "no paper money: the amounts are the test's own"
    stamp = int(time.time() * 1000) % 10**8
    users = []
    for n in range(instruments + traders):
        user = User.objects.create_user(username=f"fault{stamp}-{n}", password="x-Pass-1234")
        cash_account_open(user=user)
        cash_deposit(user_id=user.pk, amount=cash)
        users.append(user)
    symbols = []
    for n, owner in enumerate(users[:instruments]):
        vehicle = Vehicle.objects.create(
            owner=owner, make="Porsche", model="911", year=1973, vin=make_vin(stamp * 10 + n)
        )
        instrument = instrument_list(
            user_id=owner.pk, vehicle=vehicle, symbol=f"F{stamp}{n}"[-12:], total_shares=10_000
        )
        market_open(symbol=instrument.symbol)  # listed today: opened early, as an operator may
        symbols.append(instrument.symbol)
    tokens = [Token.objects.create(user=user).key for user in users]
    return {"symbols": symbols, "tokens": tokens, "user_ids": [user.pk for user in users]}


def trade(user_ids: list[int], symbols: list[str], stop: str, seed: int) -> dict[str, Any]:
    """Orders through the service layer in one process that keeps its database connection, as
    a Celery worker or the embedded clock does: `close_old_connections()` before each command
    (what they do around each job), and a command that meets an OperationalError (the database
    went away) retried as it was, with its client_order_id, until it gets an answer."""
    import random
    from decimal import Decimal
    from pathlib import Path

    from django.db import OperationalError, close_old_connections

    from config.errors import DomainError
    from market.services.orders import order_place

    rng = random.Random(seed)
    accepted: list[int] = []
    # When each was accepted (wall clock, comparable with the test's).
    accepted_at: list[float] = []
    rejected: dict[str, int] = {}
    retried, lost = 0, 0
    serial = 0
    while not Path(stop).exists():
        serial += 1
        is_market = rng.random() < 0.1
        order = {
            "user_id": rng.choice(user_ids),
            "symbol": rng.choice(symbols),
            "side": rng.choice(["buy", "sell"]),
            "type": "market" if is_market else "limit",
            "quantity": rng.randint(1, 20),
            "price": None if is_market else str(Decimal(rng.randint(9800, 10200)) / 100),
            "time_in_force": rng.choice(["day", "gtc", "ioc"]),
            "client_order_id": f"s{seed}-{serial}",
        }
        deadline = time.monotonic() + 60
        while True:
            close_old_connections()
            try:
                placed = order_place(**order)
            except DomainError as error:
                rejected[error.code] = rejected.get(error.code, 0) + 1
            except OperationalError:
                retried += 1
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                lost += 1
            else:
                accepted.append(placed.pk)
                accepted_at.append(time.time())
            break
        if serial == 1:
            Path(f"{stop}.trading").touch()
    return {
        "attempted": serial,
        "accepted": accepted,
        "accepted_at": accepted_at,
        "rejected": rejected,
        "retried": retried,
        "lost": lost,
    }


def check(accepted: list[int]) -> dict[str, Any]:
    from market.models import MarketEvent, Order, Trade
    from tests.market.faults.checks import books_problems, lost_orders

    return {
        "books": books_problems(),
        "lost": lost_orders(accepted),
        "orders": Order.objects.count(),
        "trades": Trade.objects.count(),
        "unpublished": MarketEvent.objects.filter(published_at__isnull=True).count(),
    }


def sweep(tries: int) -> dict[str, Any]:
    from market import relay
    from market.models import MarketEvent

    waiting = MarketEvent.objects.filter(published_at__isnull=True)
    before = waiting.count()
    for _ in range(tries):
        relay.relay_sweep()
        if not waiting.exists():
            break
        time.sleep(0.2)
    return {"before": before, "after": waiting.count()}


def sent(streams: list[str]) -> dict[str, Any]:
    from market import relay
    from market.models import MarketEvent

    return {
        stream: {
            "last_seq": relay.stream_last_seq(stream),
            "messages": [
                [seq, type_, published_at.timestamp()]
                for seq, type_, published_at in MarketEvent.objects.filter(
                    stream=stream, seq__isnull=False
                )
                .order_by("seq")
                .values_list("seq", "type", "published_at")
            ],
        }
        for stream in streams
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    command, argument = sys.argv[1], json.loads(sys.stdin.read() or "{}")
    result = {"seed": seed, "trade": trade, "check": check, "sweep": sweep, "sent": sent}[command](
        **argument
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
