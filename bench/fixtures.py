"""Benchmark data, written fast and consistent: `reconcile()` passes on it.

    python bench/fixtures.py market --users 64 --symbols 20 --out PATH
    python bench/fixtures.py auction --orders 100000 --users 1000 --json PATH

`market`: traders with API tokens, cash (a deposit ledger transaction each) and shares in every
benchmark instrument, and the instruments themselves, listed through `instrument_list` before
the open and opened through `auction_run`, so that they trade continuously. Writes the tokens
and symbols the load generator needs as JSON.

`auction`: a fresh instrument whose first opening auction is due, a deep book of resting orders
from many traders (bulk inserted with their reservations, positions and cash), then the timed
part: `auction_run` through the service layer, end to end (lock, load, uncross, trades, ledger,
outbox, commit, after-commit relay). Writes the figures as JSON.

Needs DJANGO_SETTINGS_MODULE and the database (scripts/run_bench.py sets both).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from accounts.models import User  # noqa: E402
from config.memory import tune_garbage_collector  # noqa: E402
from market import clock  # noqa: E402
from market.calendar import get_calendar  # noqa: E402
from market.models import (  # noqa: E402
    AuctionKind,
    CashAccount,
    CashAccountKind,
    Instrument,
    LedgerEntry,
    LedgerKind,
    LedgerTransaction,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from market.money import cents  # noqa: E402
from market.services.auctions import auction_run  # noqa: E402
from market.services.book import reservation_for  # noqa: E402
from market.services.ledger import system_account  # noqa: E402
from market.services.listings import instrument_list  # noqa: E402
from vehicles.models import Vehicle  # noqa: E402
from vehicles.validators import vin_check_digit  # noqa: E402

LISTING_PRICE = Decimal("100.00")
TOTAL_SHARES = 1_000_000
TRADER_CASH = Decimal("50000000.00")
MARKET_SHARES_EACH = 15_000


def make_vin(serial: int) -> str:
    draft = f"5YJSA1E2{serial % 100_000_000:09d}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


def traders(prefix: str, count: int) -> list[User]:
    """`count` users with one shared password hash, a token and a funded cash account each."""
    password = make_password("bench-password-not-secret")
    users = User.objects.bulk_create(
        [User(username=f"{prefix}{n}", password=password) for n in range(count)]
    )
    Token.objects.bulk_create([Token(user=user, key=Token.generate_key()) for user in users])
    accounts = CashAccount.objects.bulk_create(
        [
            CashAccount(kind=CashAccountKind.USER, user=user, balance_amount=TRADER_CASH)
            for user in users
        ]
    )
    external = system_account(CashAccountKind.EXTERNAL)
    movements = LedgerTransaction.objects.bulk_create(
        [LedgerTransaction(kind=LedgerKind.DEPOSIT, memo="Benchmark cash") for _ in users]
    )
    entries = []
    for account, movement in zip(accounts, movements, strict=True):
        entries += [
            LedgerEntry(transaction=movement, account=account, amount=TRADER_CASH),
            LedgerEntry(transaction=movement, account=external, amount=-TRADER_CASH),
        ]
    LedgerEntry.objects.bulk_create(entries, batch_size=5000)
    return users


def list_instrument(owner: User, serial: int, symbol: str, *, before_open: bool) -> Instrument:
    """List through the service; `before_open`: at today's pre-open, so it trades today."""
    vehicle = Vehicle.objects.create(
        owner=owner, make="Bench", model="Car", year=2020, vin=make_vin(serial)
    )
    now = clock.now()
    if before_open:
        session = get_calendar().session_at(now)
        now = get_calendar().open_at(session.trading_date) - timedelta(minutes=5)
    return instrument_list(
        user_id=owner.pk,
        vehicle=vehicle,
        symbol=symbol,
        total_shares=TOTAL_SHARES,
        listing_price=LISTING_PRICE,
        now=now,
    )


def give_shares(instrument: Instrument, owner: User, users: list[User], each: int) -> None:
    """Move `each` shares from the listing owner to every user, at the listing price."""
    with transaction.atomic():
        owner_position = Position.objects.select_for_update().get(instrument=instrument, user=owner)
        moved = each * len(users)
        owner_position.quantity -= moved
        owner_position.cost_basis_amount -= cents(instrument.listing_price * moved)
        owner_position.save(update_fields=["quantity", "cost_basis_amount"])
        Position.objects.bulk_create(
            [
                Position(
                    user=user,
                    instrument=instrument,
                    quantity=each,
                    cost_basis_amount=cents(instrument.listing_price * each),
                )
                for user in users
            ],
            batch_size=5000,
        )


def seed_market(users_count: int, symbols_count: int, out: Path) -> None:
    started = time.perf_counter()
    owner = User.objects.create(username="bench-owner", password=make_password(None))
    users = traders("trader", users_count)
    trading_date = get_calendar().session_at(clock.now()).trading_date
    symbols = []
    for n in range(symbols_count):
        symbol = f"BENCH{n:02d}"
        instrument = list_instrument(owner, n, symbol, before_open=True)
        # Opened before the traders hold shares: its result is then news to the owner alone.
        auction_run(
            instrument_id=instrument.pk, trading_date=trading_date, kind=AuctionKind.OPENING
        )
        give_shares(instrument, owner, users, MARKET_SHARES_EACH)
        symbols.append(symbol)
    tokens = dict(Token.objects.filter(user__in=users).values_list("user_id", "key"))
    out.write_text(
        json.dumps(
            {
                "symbols": symbols,
                "vehicle_ids": list(
                    Instrument.objects.filter(symbol__in=symbols)
                    .order_by("symbol")
                    .values_list("vehicle_id", flat=True)
                ),
                "mid_price": str(LISTING_PRICE),
                "traders": [{"user_id": user.pk, "token": tokens[user.pk]} for user in users],
                "trading_date": trading_date.isoformat(),
                "virtual_now": clock.now().isoformat(),
            },
            indent=1,
        )
    )
    print(
        f"seeded {users_count} traders and {symbols_count} instruments "
        f"in {time.perf_counter() - started:.1f} s (market time {clock.now():%Y-%m-%d %H:%M})",
        flush=True,
    )


# --- the opening auction of a deep book ------------------------------------------------------


def auction_book(
    instrument: Instrument, users: list[User], count: int, cross_share: float, seed: int
) -> dict[str, int]:
    """Bulk insert `count` resting limit orders (half buys, half sells) with their
    reservations, the sellers' positions and the buyers' reserved cash."""
    rng = random.Random(seed)
    trading_date = get_calendar().session_at(clock.now()).trading_date
    orders: list[Order] = []
    sold: dict[int, int] = defaultdict(int)
    reserved_cash: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
    per_user = count // len(users)
    for index in range(count):
        user = users[index // per_user % len(users)]
        # Each trader is a buyer or a seller, so nobody can meet themselves in the uncross.
        side = Side.BUY if user.pk % 2 else Side.SELL
        crossing = rng.random() < cross_share
        ticks = rng.randint(1, 300 if crossing else 2000)
        # Resting buys bid below $100, crossing ones above it; sells the other way around.
        offset = Decimal(ticks) / 100
        price = LISTING_PRICE + offset if (side == Side.BUY) == crossing else LISTING_PRICE - offset
        order = Order(
            user=user,
            instrument=instrument,
            side=side,
            type=OrderType.LIMIT,
            time_in_force=TimeInForce.DAY,
            quantity=rng.randint(1, 10),
            price=price,
            status=OrderStatus.OPEN,
            trading_date=trading_date,
        )
        if side == Side.BUY:
            order.reserved_amount = reservation_for(order)
            reserved_cash[user.pk] += order.reserved_amount
        else:
            sold[user.pk] += order.quantity
        orders.append(order)
    sellers = [user for user in users if user.pk in sold]
    with transaction.atomic():
        owner_position = Position.objects.select_for_update().get(
            instrument=instrument, quantity=instrument.total_shares
        )
        moved = sum(sold.values())
        owner_position.quantity -= moved
        owner_position.cost_basis_amount -= cents(instrument.listing_price * moved)
        owner_position.save(update_fields=["quantity", "cost_basis_amount"])
        Position.objects.bulk_create(
            [
                Position(
                    user=user,
                    instrument=instrument,
                    quantity=sold[user.pk],
                    reserved_quantity=sold[user.pk],
                    cost_basis_amount=cents(instrument.listing_price * sold[user.pk]),
                )
                for user in sellers
            ],
            batch_size=5000,
        )
        copy_orders(orders)
        accounts = {
            account.user_id: account
            for account in CashAccount.objects.select_for_update().filter(
                user_id__in=reserved_cash.keys()
            )
        }
        for user_id, amount in reserved_cash.items():
            accounts[user_id].reserved_amount = amount
        CashAccount.objects.bulk_update(list(accounts.values()), ["reserved_amount"])
    return {"orders": len(orders), "buyers": len(reserved_cash), "sellers": len(sellers)}


def copy_orders(orders: list[Order]) -> None:
    """Insert unsaved orders with PostgreSQL's COPY (bulk_create on other databases)."""
    if connection.vendor != "postgresql":
        Order.objects.bulk_create(orders, batch_size=5000)
        return
    now = datetime.now().astimezone()
    columns = [
        "user_id",
        "instrument_id",
        "side",
        "type",
        "time_in_force",
        "quantity",
        "price",
        "filled_quantity",
        "status",
        "reserved_amount",
        "filled_notional",
        "fees_paid",
        "trading_date",
        "created_at",
        "updated_at",
    ]
    connection.ensure_connection()
    statement = f"COPY market_order ({', '.join(columns)}) FROM STDIN"
    raw = connection.connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for order in orders:
            copy.write_row(
                (
                    order.user_id,
                    order.instrument_id,
                    order.side,
                    order.type,
                    order.time_in_force,
                    order.quantity,
                    order.price,
                    0,
                    order.status,
                    order.reserved_amount,
                    Decimal("0.00"),
                    Decimal("0.00"),
                    order.trading_date,
                    now,
                    now,
                )
            )


def run_auction(orders_count: int, users_count: int, cross_share: float, out: Path | None) -> None:
    started = time.perf_counter()
    tag = random.randrange(10_000, 100_000)  # several runs can share a database
    owner = User.objects.create(username=f"auction-owner-{tag}", password=make_password(None))
    users = traders(f"bidder{tag}-", users_count)
    instrument = list_instrument(owner, tag, f"AUCT{tag}", before_open=False)
    print(f"auction: {users_count} traders in {time.perf_counter() - started:.1f} s", flush=True)
    shape = auction_book(instrument, users, orders_count, cross_share, seed=7)
    print(f"auction: book of {orders_count} in {time.perf_counter() - started:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    seeded_s = time.perf_counter() - started
    # Its first opening auction: the instrument was listed during trading, so it opens on the
    # next trading day (which the market clock's catch-up does not reach during the benchmark).
    trading_date = instrument.first_trading_date
    # Instrumentation of this process only: when the auction's transaction has committed (the
    # rest is its after-commit work, the real-time relay), and how many statements each took.
    marks: dict[str, float] = {}
    statements = {"transaction": 0, "after_commit": 0}
    run_hooks = connection.run_and_clear_commit_hooks

    def committed_then_hooks() -> None:
        marks.setdefault("committed", time.perf_counter())
        run_hooks()

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements["after_commit" if "committed" in marks else "transaction"] += 1
        return execute(sql, params, many, context)

    connection.run_and_clear_commit_hooks = committed_then_hooks  # type: ignore[method-assign]
    began = time.perf_counter()
    with connection.execute_wrapper(count):
        record = auction_run(
            instrument_id=instrument.pk, trading_date=trading_date, kind=AuctionKind.OPENING
        )
    elapsed = time.perf_counter() - began
    connection.run_and_clear_commit_hooks = run_hooks  # type: ignore[method-assign]
    assert record is not None
    committed_s = marks.get("committed", began + elapsed) - began
    result: dict[str, Any] = {
        "orders": shape["orders"],
        "traders": users_count,
        "crossing_share": cross_share,
        "seed_s": round(seeded_s, 2),
        "auction_ms": round(elapsed * 1000, 1),
        "until_commit_ms": round(committed_s * 1000, 1),
        "after_commit_ms": round((elapsed - committed_s) * 1000, 1),
        "statements": statements,
        "price": str(record.price),
        "volume": record.volume,
        "trades": record.trades.count(),
        "filled_orders": Order.objects.filter(instrument=instrument, filled_quantity__gt=0).count(),
        "at": datetime.now().isoformat(timespec="seconds"),
    }
    print(json.dumps(result), flush=True)
    if out is not None:
        out.write_text(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    market = commands.add_parser("market")
    market.add_argument("--users", type=int, default=64)
    market.add_argument("--symbols", type=int, default=20)
    market.add_argument("--out", type=Path, required=True)
    auction = commands.add_parser("auction")
    auction.add_argument("--orders", type=int, default=100_000)
    auction.add_argument("--users", type=int, default=1000)
    auction.add_argument("--cross-share", type=float, default=0.05)
    auction.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.command == "market":
        seed_market(args.users, args.symbols, args.out)
    else:
        # As the Celery worker process that runs auctions in production (config/celery.py).
        tune_garbage_collector()
        run_auction(args.orders, args.users, args.cross_share, args.json)


if __name__ == "__main__":
    main()
