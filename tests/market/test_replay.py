"""Issue #11: replaying the stored order log into an empty database reproduces the same
trades, balances and audit hashes.

A day of trading is built through the service layer (listings in the pre-open, an opening
auction, a seeded random stream of limit, market and immediate-or-cancel orders and cancels,
a halt, cash movements, a closing call and its auction), each command at its own pinned
instant. The log is then read back from the database (the audit events), every table emptied
with its id sequences reset, the users and vehicles recreated, and the log replayed
(tests/market/replay.py). Every row of the market's tables must come back identical: orders,
trades, auctions, cash accounts, positions, ledger, audit events with their hashes and the
chains' heads.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.management.color import no_style
from django.db import connection
from django.db.models import Model

from accounts.models import User
from config.errors import DomainError
from market.models import (
    OPEN_STATUSES,
    AuctionKind,
    AuctionRecord,
    AuditChain,
    AuditEvent,
    CashAccount,
    Instrument,
    LedgerEntry,
    LedgerTransaction,
    Order,
    OrderType,
    Position,
    Side,
    TimeInForce,
    Trade,
)
from market.services.auctions import auction_run
from market.services.audit import audit_verify
from market.services.control import market_halt, market_resume
from market.services.ledger import cash_account_open, cash_adjust, cash_deposit, cash_withdraw
from market.services.listings import instrument_list
from market.services.orders import order_cancel, order_place
from market.services.reconcile import reconcile
from tests.market.conftest import TRADING_DAY, make_vin, market_time
from tests.market.replay import replay_log, stored_log
from vehicles.models import Vehicle

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20261118
COMMANDS = 200
TRADERS = 6
# Every table the market writes, compared row by row (every column) after the replay.
COMPARED: tuple[type[Model], ...] = (
    Instrument,
    Order,
    Trade,
    AuctionRecord,
    CashAccount,
    Position,
    LedgerTransaction,
    LedgerEntry,
    AuditEvent,
    AuditChain,
)


@pytest.fixture
def at() -> Iterator[Callable[[datetime], None]]:
    """at(instant) pins the clock there; instants only move forward."""
    machines: list[time_machine.travel] = []
    last: list[datetime] = []

    def go(instant: datetime) -> None:
        assert not last or instant > last[-1], "instants strictly increase"
        last.append(instant)
        if machines:
            machines.pop().stop()
        machine = time_machine.travel(instant, tick=False)
        machine.start()
        machines.append(machine)

    yield go
    if machines:
        machines.pop().stop()


def reference_data(people: Sequence[str], vehicles: Sequence[Mapping[str, Any]]) -> None:
    """What the log does not hold: the users, their cash accounts, their vehicles."""
    with time_machine.travel(market_time("08:00"), tick=False):
        for name in people:
            user = User.objects.create_user(username=name, password="x-Pass-1234")
            cash_account_open(user=user)
        for vehicle in vehicles:
            Vehicle.objects.create(**vehicle)


def trading_day(at: Callable[[datetime], None]) -> None:
    """The day, through the service layer; business refusals are part of it (and audited)."""
    rng = random.Random(SEED)
    owners, traders = ["owner1", "owner2"], [f"trader{n}" for n in range(1, TRADERS + 1)]
    reference_data(
        owners + traders,
        [
            {"owner_id": 1, "make": "Porsche", "model": "911", "year": 1973, "vin": make_vin(1)},
            {"owner_id": 2, "make": "Ferrari", "model": "Dino", "year": 1972, "vin": make_vin(2)},
        ],
    )
    users = {user.username: user.pk for user in User.objects.all()}
    clock = market_time("09:00")

    def tick(low: int = 1, high: int = 30) -> None:
        nonlocal clock
        clock += timedelta(seconds=rng.randint(low, high), microseconds=rng.randint(1, 999_999))
        at(clock)

    for name in traders:
        tick()
        cash_deposit(user_id=users[name], amount=f"{rng.randint(20, 60) * 1000}.00")
    symbols = []
    for serial, name in enumerate(owners, start=1):
        tick()
        instrument = instrument_list(
            user_id=users[name],
            vehicle=Vehicle.objects.get(vin=make_vin(serial)),
            symbol=f"CAR{serial}",
            total_shares=1000,
            listing_price="100.00",
        )
        symbols.append(instrument.symbol)

    def attempt(command: Callable[..., object], **arguments: Any) -> None:
        with suppress(DomainError):  # refused: audited as order.rejected or cancel_refused
            command(**arguments)

    def random_order(name: str) -> None:
        symbol = rng.choice(symbols)
        side = rng.choice([Side.BUY, Side.SELL])
        kind = rng.choices(["limit", "market", "ioc"], weights=[6, 2, 2])[0]
        price = None if kind == "market" else Decimal(rng.randint(9_500, 10_500)) / 100
        attempt(
            order_place,
            user_id=users[name],
            symbol=symbol,
            side=side,
            type=OrderType.MARKET if kind == "market" else OrderType.LIMIT,
            quantity=rng.randint(1, 40),
            price=price,
            time_in_force=TimeInForce.IOC
            if kind == "ioc"
            else rng.choice([TimeInForce.DAY, TimeInForce.DAY, TimeInForce.GTC]),
        )

    def random_cancel(name: str) -> None:
        # Any of the user's orders, open or not: cancelling a filled one is refused.
        mine = list(
            Order.objects.filter(user_id=users[name]).order_by("pk").values_list("pk", flat=True)
        )
        if mine:
            order_id = rng.choice(mine)
            attempt(order_cancel, user_id=users[name], order_id=order_id)

    # Pre-open: the owners offer shares, traders bid; an immediate-or-cancel is refused.
    for name in owners:
        for _ in range(4):
            tick()
            attempt(
                order_place,
                user_id=users[name],
                symbol=symbols[owners.index(name)],
                side=Side.SELL,
                quantity=rng.randint(50, 150),
                price=Decimal(rng.randint(9_800, 10_300)) / 100,
            )
    for _ in range(20):
        tick()
        random_order(rng.choice(traders))

    at(market_time("09:30") + timedelta(microseconds=rng.randint(1, 999_999)))
    for symbol in symbols:
        clock = market_time("09:30") + timedelta(seconds=1 + symbols.index(symbol))
        at(clock)
        auction_run(
            instrument_id=Instrument.objects.get(symbol=symbol).pk,
            trading_date=TRADING_DAY,
            kind=AuctionKind.OPENING,
        )

    everyone = owners + traders
    for step in range(COMMANDS):
        tick(5, 60)
        if step == COMMANDS // 3:
            market_halt(symbol=symbols[1], actor_id=users["owner1"])
        elif step == COMMANDS // 3 + 15:
            market_resume(symbol=symbols[1], actor_id=users["owner1"])
        elif step == COMMANDS // 2:
            cash_withdraw(user_id=users["trader1"], amount="500.00")
        elif step == COMMANDS // 2 + 1:
            cash_adjust(user_id=users["trader2"], amount="-12.34", reason="Card fee refunded twice")
        elif rng.random() < 0.2:
            random_cancel(rng.choice(everyone))
        else:
            random_order(rng.choice(everyone))
    assert clock < market_time("15:55"), "the stream fits in continuous trading"

    clock = market_time("15:55")
    for _ in range(10):
        tick()
        random_order(rng.choice(everyone))
    # And a pair that crosses for certain, so the closing auction trades (each first cancels
    # its own resting orders there, which it would otherwise trade with).
    for order in Order.objects.filter(
        user_id__in=[users["owner1"], users["trader3"]],
        instrument__symbol=symbols[0],
        status__in=OPEN_STATUSES,
    ).order_by("pk"):
        tick()
        order_cancel(user_id=order.user_id, order_id=order.pk)
    for name, side, price in (("owner1", Side.SELL, "95.00"), ("trader3", Side.BUY, "105.00")):
        tick()
        order_place(user_id=users[name], symbol=symbols[0], side=side, quantity=10, price=price)
    for serial, symbol in enumerate(symbols):
        at(market_time("16:00") + timedelta(seconds=serial))
        auction_run(
            instrument_id=Instrument.objects.get(symbol=symbol).pk,
            trading_date=TRADING_DAY,
            kind=AuctionKind.CLOSING,
        )


def snapshot() -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    for model in COMPARED:
        tables[model.__name__] = [
            dict(row) for row in model._default_manager.order_by("pk").values()
        ]
    return tables


def empty_database() -> None:
    """Every table emptied and its id sequence restarted, as `manage.py flush` does: TRUNCATE
    ... RESTART IDENTITY on PostgreSQL (the immutable tables refuse DELETE, not TRUNCATE),
    DELETE and sqlite_sequence on SQLite."""
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    connection.ops.execute_sql_flush(
        connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
    )


def test_replaying_the_stored_log_reproduces_the_day(at, settings):
    settings.MARKET_DEMO_MODE = False
    # Ids from 1, as the replay will count them: earlier tests of this database (SQLite keeps
    # counting after a flush without sequences reset) must not shift the first run's ids.
    empty_database()
    started = time.perf_counter()
    trading_day(at)
    built = time.perf_counter()
    before = snapshot()
    assert reconcile() == []
    assert audit_verify().is_intact
    actions = {event["action"] for event in before["AuditEvent"]}
    # The day exercised what the log must carry.
    assert {
        "cash.deposit",
        "cash.withdrawal",
        "cash.adjustment",
        "instrument.listed",
        "order.placed",
        "order.cancelled",
        "order.rejected",
        "order.cancel_refused",
        "auction.opening",
        "auction.closing",
        "auction.reopening",
        "market.halt",
        "market.resume",
    } <= actions
    assert len(before["Trade"]) > 50
    assert {trade["kind"] for trade in before["Trade"]} >= {
        "continuous",
        "opening_auction",
        "closing_auction",
    }
    assert not Order.objects.filter(status__in=OPEN_STATUSES, time_in_force="day").exists()

    log = stored_log()
    people = list(User.objects.order_by("pk").values_list("username", flat=True))
    vehicles = list(
        Vehicle.objects.order_by("pk").values("owner_id", "make", "model", "year", "vin")
    )
    empty_database()
    assert not AuditEvent.objects.exists()
    assert not User.objects.exists()

    rebuilt = time.perf_counter()
    reference_data(people, vehicles)
    assert list(User.objects.order_by("pk").values_list("username", flat=True)) == people
    replayed = replay_log(log)
    print(
        f"[replay] {len(log)} events, {replayed} commands replayed; day built in "
        f"{built - started:.1f} s, replayed in {time.perf_counter() - rebuilt:.1f} s"
    )

    after = snapshot()
    for table, rows in before.items():
        assert after[table] == rows, f"{table} differs after the replay"
    assert reconcile() == []
    verification = audit_verify()
    assert verification.is_intact, verification.breaks
    heads = {chain["name"]: chain["last_hash"] for chain in before["AuditChain"]}
    assert {check.name: check.last_hash for check in verification.chains} == heads
