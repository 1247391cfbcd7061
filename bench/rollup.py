"""Benchmark of the nightly rollup (market.services.rollups) on PostgreSQL.

    DATABASE_URL=postgres://... python bench/rollup.py [--users N] [--trades N]
        [--instruments N] [--days N] [--seed S] [--json PATH] [--keep] [--in-place]

Writes a consistent market with COPY: `--users` traders (default 100,000) with a deposit each,
`--instruments` listings (default 200, each by its own owner among the users), and `--trades`
trades (default 1,000,000) over the last `--days` closed trading days (default 2), each with
its orders, its ledger transaction (buyer, seller, platform revenue) and its auction record when
it is an auction trade; the cash accounts and positions the trades leave. Each trader deals in
two instruments; sellers only sell shares they hold. Then the timed part: one `rollup_run()`
that rolls up every one of those days (no run before: the first run starts at the first
listing); then, with the days before it frozen, the nightly run of the last day alone on top
of the whole history (`nightly_s`); and the live board of the last day computed from the
current balances, checked against the frozen one (they must agree to the cent).

By default it works in a scratch database next to DATABASE_URL's (`<name>_rollup_bench`),
created, migrated and dropped at the end (`--keep` keeps it); `--in-place` uses DATABASE_URL's
own database, which must be migrated and empty. Not part of the test suite: `make bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 60
DEPOSIT_CENTS = 100_000_000  # $1,000,000.00 each: nobody runs out of cash
TOTAL_SHARES = 1_000_000
LISTING_CENTS = 10_000  # $100.00
AUCTION_SHARE = 0.05  # of each day's trades, at the open and again at the close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--instruments", type=int, default=200)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--in-place", action="store_true", help="use DATABASE_URL's database")
    args = parser.parse_args()
    if not 2 <= args.instruments < args.users:
        parser.error("need 2 <= --instruments < --users")
    if args.days < 1 or args.trades < args.days:
        parser.error("need --days >= 1 and at least one trade a day")

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/rollup.py needs DATABASE_URL=postgres://... (PostgreSQL)")
    scratch = None if args.in_place else _scratch_url(database_url)
    if scratch is not None:
        _create_database(database_url, scratch)
        os.environ["DATABASE_URL"] = scratch
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["MARKET_DEMO_DAY_SECONDS"] = "0"  # the real clock: the days are in the past
    try:
        figures = _run(args)
    finally:
        if scratch is not None and not args.keep:
            from django.db import connections

            connections.close_all()
            _drop_database(database_url, scratch)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def _run(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from market.calendar import get_calendar
    from market.clock import now as market_now
    from market.leaderboard import live_results
    from market.rollup_models import DailyResult
    from market.services.rollups import rollup_run

    call_command("migrate", verbosity=0)
    calendar = get_calendar()
    last = calendar.last_close(market_now())
    assert last is not None
    days = [last]
    while len(days) < args.days:
        days.insert(0, calendar.previous_trading_day(days[0]))

    started = time.perf_counter()
    counts = Generator(args, days, calendar).write(connection)
    generate_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    started, cpu_started = time.perf_counter(), time.process_time()
    runs = rollup_run()
    rollup_seconds = time.perf_counter() - started
    rollup_cpu_seconds = time.process_time() - cpu_started
    assert [run.trading_date for run in runs] == days, runs

    nightly_seconds = nightly_cpu_seconds = None
    if len(days) > 1:
        # The steady state: the days before are frozen, the last one is rolled up on top of
        # the whole history (its state at the previous close is rebuilt from every trade).
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE market_badge, market_dailyresult, market_rolluprun")
        rollup_run(trading_date=days[-2])
        started, cpu_started = time.perf_counter(), time.process_time()
        [nightly] = rollup_run()
        nightly_seconds = time.perf_counter() - started
        nightly_cpu_seconds = time.process_time() - cpu_started
        assert nightly.trading_date == days[-1]

    started = time.perf_counter()
    live = live_results(days[-1])
    live_seconds = time.perf_counter() - started
    frozen = dict(
        DailyResult.objects.filter(trading_date=days[-1]).values_list("user_id", "pnl_amount")
    )
    disagreements = sum(1 for line in live if frozen.get(line.user_id) != line.pnl_amount)

    return {
        "benchmark": "rollup",
        "users": args.users,
        "trades": counts["trades"],
        "instruments": args.instruments,
        "days": [day.isoformat() for day in days],
        "rows_written": counts,
        "generate_s": round(generate_seconds, 1),
        "rollup_s": round(rollup_seconds, 2),
        "rollup_per_day_s": {
            run.trading_date.isoformat(): round(
                (run.written_at - run.started_at).total_seconds(), 2
            )
            for run in runs
        },
        # This process's CPU time: the rest of the wall time is the database, or waiting for a
        # CPU on a busy machine (see load_average).
        "rollup_python_cpu_s": round(rollup_cpu_seconds, 2),
        "nightly_s": round(nightly_seconds, 2) if nightly_seconds is not None else None,
        "nightly_python_cpu_s": (
            round(nightly_cpu_seconds, 2) if nightly_cpu_seconds is not None else None
        ),
        "results_written": sum(run.results_count for run in runs),
        "badges_written": sum(run.badges_count for run in runs),
        "target_s": TARGET_SECONDS,
        "catch_up_within_target": rollup_seconds < TARGET_SECONDS,
        "nightly_within_target": (
            nightly_seconds < TARGET_SECONDS if nightly_seconds is not None else None
        ),
        "live_board_s": round(live_seconds, 2),
        "live_board_agrees_with_frozen": disagreements == 0 and len(live) == len(frozen),
        "load_average": [round(load, 1) for load in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


class Generator:
    """The market's rows, as COPY streams. Primary keys are assigned here, in time order."""

    def __init__(self, args: argparse.Namespace, days: list[date], calendar: Any):
        self.args = args
        self.days = days
        self.calendar = calendar
        self.rng = random.Random(args.seed)
        self.users = args.users
        self.instruments = args.instruments
        # user id -> cash in cents; (user, instrument) -> [quantity, cost cents, realized cents]
        self.cash = {user_id: DEPOSIT_CENTS for user_id in range(1, self.users + 1)}
        self.positions: dict[tuple[int, int], list[int]] = {}
        # instrument -> users who deal in it, and those who hold some of it
        self.dealers: dict[int, list[int]] = defaultdict(list)
        self.holders: dict[int, list[int]] = defaultdict(list)
        # (user, instrument, side) -> order id; order id -> [filled, notional cents, fees cents]
        self.order_ids: dict[tuple[int, int, str], int] = {}
        self.order_fills: dict[int, list[int]] = {}
        self.order_dates: dict[int, date] = {}
        self.prices = {instrument: LISTING_CENTS for instrument in range(1, self.instruments + 1)}
        self.last_trade_at: dict[int, datetime] = {}

    # --- the whole market --------------------------------------------------------------------

    def write(self, connection: Any) -> dict[str, int]:
        first_day = self.days[0]
        joined_at = self._at(first_day, "08:00")
        revenue_id, external_id = self.users + 1, self.users + 2
        counts: dict[str, int] = {}
        raw = connection.connection
        with raw.transaction(), raw.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            _skip_row_triggers(raw, cursor)
            counts["users"] = self._copy(
                cursor,
                "accounts_user",
                "id password is_superuser username first_name last_name email is_staff "
                "is_active date_joined display_name",
                (
                    (u, "!", "f", f"bench{u}", "", "", "", "f", "t", joined_at, f"Bench {u}")
                    for u in range(1, self.users + 1)
                ),
            )
            self._copy(
                cursor,
                "vehicles_vehicle",
                "id owner_id make model year vin trim mileage colour description created_at "
                "updated_at",
                (
                    (
                        i,
                        i,
                        "Bench",
                        "Car",
                        1990,
                        f"BENCH{i:012d}",
                        "",
                        0,
                        "",
                        "",
                        joined_at,
                        joined_at,
                    )
                    for i in range(1, self.instruments + 1)
                ),
            )
            self._copy(
                cursor,
                "market_instrument",
                "id symbol vehicle_id total_shares listing_price status first_trading_date "
                "listed_at updated_at",
                (
                    (
                        i,
                        f"BENCH{i}",
                        i,
                        TOTAL_SHARES,
                        _money(LISTING_CENTS),
                        "active",
                        first_day,
                        joined_at,
                        joined_at,
                    )
                    for i in range(1, self.instruments + 1)
                ),
            )
            for instrument in range(1, self.instruments + 1):
                self.positions[(instrument, instrument)] = [
                    TOTAL_SHARES,
                    TOTAL_SHARES * LISTING_CENTS,
                    0,
                ]
                self.holders[instrument].append(instrument)
            for user in range(self.instruments + 1, self.users + 1):
                for instrument in {
                    user % self.instruments + 1,
                    (user * 7 + 3) % self.instruments + 1,
                }:
                    self.dealers[instrument].append(user)
            counts["deposits"] = self._copy(
                cursor,
                "market_ledgertransaction",
                "id kind memo created_at",
                ((u, "deposit", "Bench deposit", joined_at) for u in range(1, self.users + 1)),
            )
            deposits = (
                row
                for u in range(1, self.users + 1)
                for row in (
                    (2 * u - 1, u, u, _money(DEPOSIT_CENTS), "Bench deposit", joined_at),
                    (2 * u, u, external_id, _money(-DEPOSIT_CENTS), "Bench deposit", joined_at),
                )
            )
            self._copy(
                cursor,
                "market_ledgerentry",
                "id transaction_id account_id amount description created_at",
                deposits,
            )
            counts["trades"] = self._write_trades(cursor, revenue_id)
            counts["orders"] = self._write_orders(cursor)
            counts["positions"] = self._write_positions(cursor, joined_at)
            counts["cash_accounts"] = self._write_accounts(
                cursor, joined_at, revenue_id, external_id
            )
            self._write_instrument_prices(cursor)
            for table in (
                "accounts_user",
                "vehicles_vehicle",
                "market_instrument",
                "market_order",
                "market_trade",
                "market_position",
                "market_cashaccount",
                "market_ledgertransaction",
                "market_ledgerentry",
                "market_auctionrecord",
            ):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
                )
        return counts

    # --- trades, with their ledger transactions and auctions ----------------------------------

    def _write_trades(self, cursor: Any, revenue_id: int) -> int:
        per_day = [self.args.trades // len(self.days)] * len(self.days)
        per_day[-1] += self.args.trades - sum(per_day)
        next_id = {"trade": 0, "auction": 0}
        first_transaction = self.users  # ids after the deposits
        first_entry = 2 * self.users
        trades: list[str] = []
        ledger: list[str] = []
        entries: list[str] = []
        auctions: list[str] = []

        def flush(force: bool = False) -> None:
            if force or len(trades) >= 50_000:
                _copy_text(cursor, "market_trade", TRADE_COLUMNS, trades)
                _copy_text(
                    cursor, "market_ledgertransaction", "id kind memo trade_id created_at", ledger
                )
                _copy_text(
                    cursor,
                    "market_ledgerentry",
                    "id transaction_id account_id amount description created_at",
                    entries,
                )
                trades.clear()
                ledger.clear()
                entries.clear()

        for day, count in zip(self.days, per_day, strict=True):
            auction_count = int(count * AUCTION_SHARE)
            phases = [
                ("opening_auction", auction_count, self._at(day, "09:30")),
                ("continuous", count - 2 * auction_count, self._at(day, "09:30")),
                ("closing_auction", auction_count, self._at(day, "16:00")),
            ]
            closed: set[int] = set()
            for kind, phase_count, phase_at in phases:
                auction_of: dict[int, int] = {}
                auction_volume: dict[int, int] = defaultdict(int)
                for n in range(phase_count):
                    instrument = self.rng.randint(1, self.instruments)
                    deal = self._deal(instrument)
                    if deal is None:
                        continue
                    buyer, seller, quantity = deal
                    if kind == "continuous":
                        self.prices[instrument] = max(
                            1, self.prices[instrument] + self.rng.choice((-5, -1, 0, 1, 5))
                        )
                        executed_at = phase_at + timedelta(
                            microseconds=n * (6 * 3600 + 25 * 60) * 1_000_000 // max(phase_count, 1)
                        )
                        aggressor = self.rng.choice(("buy", "sell"))
                        auction_id: int | str = "\\N"
                    else:
                        executed_at = phase_at
                        aggressor = ""
                        if instrument not in auction_of:
                            next_id["auction"] += 1
                            auction_of[instrument] = next_id["auction"]
                        auction_id = auction_of[instrument]
                        auction_volume[instrument] += quantity
                    price = self.prices[instrument]
                    notional = price * quantity
                    fee = (notional + 50) // 100  # 1% each side, half up to the cent
                    self._settle(buyer, seller, instrument, quantity, notional, fee)
                    buy_order = self._order(buyer, instrument, "buy", quantity, notional, fee, day)
                    sell_order = self._order(
                        seller, instrument, "sell", quantity, notional, fee, day
                    )
                    next_id["trade"] += 1
                    trade_id = next_id["trade"]
                    at = executed_at.isoformat()
                    self.last_trade_at[instrument] = executed_at
                    trades.append(
                        f"{trade_id}\t{instrument}\t{buy_order}\t{sell_order}\t{buyer}\t{seller}\t"
                        f"{_money(price)}\t{quantity}\t{_money(notional)}\t{_money(fee)}\t"
                        f"{_money(fee)}\t{kind}\t{aggressor}\t{auction_id}\t{day}\t{at}"
                    )
                    transaction_id = first_transaction + trade_id
                    ledger.append(f"{transaction_id}\ttrade\tTrade {trade_id}\t{trade_id}\t{at}")
                    entry_id = first_entry + 3 * trade_id
                    entries += [
                        f"{entry_id - 2}\t{transaction_id}\t{buyer}\t{_money(-notional - fee)}\tBought\t{at}",
                        f"{entry_id - 1}\t{transaction_id}\t{seller}\t{_money(notional - fee)}\tSold\t{at}",
                        f"{entry_id}\t{transaction_id}\t{revenue_id}\t{_money(2 * fee)}\tCommission\t{at}",
                    ]
                    flush()
                auction_kind = kind.removesuffix("_auction")
                for instrument, auction_id in auction_of.items():
                    price = _money(self.prices[instrument])
                    auctions.append(
                        f"{auction_id}\t{instrument}\t{day}\t{auction_kind}\t{price}\t"
                        f"{auction_volume[instrument]}\t0\t{price}\t2\t{phase_at.isoformat()}"
                    )
                if kind == "closing_auction":
                    closed = set(auction_of)
            # Every instrument has its closing auction record (empty where nothing crossed).
            for instrument in range(1, self.instruments + 1):
                if instrument not in closed:
                    next_id["auction"] += 1
                    price = _money(self.prices[instrument])
                    auctions.append(
                        f"{next_id['auction']}\t{instrument}\t{day}\tclosing\t\\N\t0\t0\t{price}\t0\t"
                        f"{self._at(day, '16:00').isoformat()}"
                    )
        _copy_text(
            cursor,
            "market_auctionrecord",
            "id instrument_id trading_date kind price volume surplus reference_price "
            "orders_count ran_at",
            auctions,
        )
        flush(force=True)
        return next_id["trade"]

    def _deal(self, instrument: int) -> tuple[int, int, int] | None:
        """A buyer among the instrument's dealers, a seller among its holders (often the
        owner), never the same user; at most the shares the seller holds."""
        dealers = self.dealers[instrument]
        if not dealers:
            return None
        buyer = self.rng.choice(dealers)
        holders = self.holders[instrument]
        seller = instrument if self.rng.random() < 0.3 else self.rng.choice(holders)
        held = self.positions.get((seller, instrument), [0])[0]
        if seller == buyer or held == 0:
            seller = instrument
            held = self.positions[(seller, instrument)][0]
        if seller == buyer or held == 0:
            return None
        return buyer, seller, min(held, self.rng.randint(1, 10))

    def _settle(
        self, buyer: int, seller: int, instrument: int, quantity: int, notional: int, fee: int
    ) -> None:
        self.cash[buyer] -= notional + fee
        self.cash[seller] += notional - fee
        bought = self.positions.get((buyer, instrument))
        if bought is None:
            bought = self.positions[(buyer, instrument)] = [0, 0, 0]
            self.holders[instrument].append(buyer)
        bought[0] += quantity
        bought[1] += notional + fee
        sold = self.positions[(seller, instrument)]
        cost = (
            sold[1]
            if quantity == sold[0]
            else (2 * sold[1] * quantity + sold[0]) // (2 * sold[0])  # half up
        )
        sold[0] -= quantity
        sold[1] -= cost
        sold[2] += notional - fee - cost

    def _order(
        self,
        user: int,
        instrument: int,
        side: str,
        quantity: int,
        notional: int,
        fee: int,
        day: date,
    ) -> int:
        key = (user, instrument, side)
        order_id = self.order_ids.get(key)
        if order_id is None:
            order_id = self.order_ids[key] = len(self.order_ids) + 1
            self.order_fills[order_id] = [0, 0, 0]
            self.order_dates[order_id] = day
        fills = self.order_fills[order_id]
        fills[0] += quantity
        fills[1] += notional
        fills[2] += fee
        return order_id

    # --- what the trades leave ----------------------------------------------------------------

    def _write_orders(self, cursor: Any) -> int:
        rows = []
        for (user, instrument, side), order_id in self.order_ids.items():
            filled, notional, fees = self.order_fills[order_id]
            day = self.order_dates[order_id]
            at = self._at(day, "09:00").isoformat()
            price = _money(max(self.prices.values()) * 10) if side == "buy" else "0.01"
            rows.append(
                f"{order_id}\t{user}\t{instrument}\t{side}\tlimit\tgtc\t{filled}\t{price}\t{filled}\t"
                f"filled\t0.00\t{_money(notional)}\t{_money(fees)}\t{day}\t{at}\t{at}\t{at}"
            )
        _copy_text(
            cursor,
            "market_order",
            "id user_id instrument_id side type time_in_force quantity price filled_quantity "
            "status reserved_amount filled_notional fees_paid trading_date created_at "
            "updated_at closed_at",
            rows,
        )
        return len(rows)

    def _write_positions(self, cursor: Any, at: str) -> int:
        rows = [
            f"{n}\t{user}\t{instrument}\t{quantity}\t0\t{_money(cost)}\t{_money(realized)}\t{at}\t{at}"
            for n, ((user, instrument), (quantity, cost, realized)) in enumerate(
                self.positions.items(), start=1
            )
        ]
        _copy_text(
            cursor,
            "market_position",
            "id user_id instrument_id quantity reserved_quantity cost_basis_amount "
            "realized_pnl_amount opened_at updated_at",
            rows,
        )
        return len(rows)

    def _write_accounts(self, cursor: Any, at: str, revenue_id: int, external_id: int) -> int:
        rows = [f"{u}\tuser\t{u}\t{_money(cash)}\t0.00\t{at}" for u, cash in self.cash.items()]
        rows += [
            f"{revenue_id}\trevenue\t\\N\t0.00\t0.00\t{at}",
            f"{external_id}\texternal\t\\N\t0.00\t0.00\t{at}",
        ]
        _copy_text(
            cursor,
            "market_cashaccount",
            "id kind user_id balance_amount reserved_amount created_at",
            rows,
        )
        return len(rows)

    def _write_instrument_prices(self, cursor: Any) -> None:
        for instrument, traded_at in self.last_trade_at.items():
            cursor.execute(
                "UPDATE market_instrument SET last_price = %s, last_trade_at = %s WHERE id = %s",
                [_money(self.prices[instrument]), traded_at, instrument],
            )

    def _copy(self, cursor: Any, table: str, columns: str, rows: Any) -> int:
        count = 0
        with cursor.copy(f"COPY {table} ({', '.join(columns.split())}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def _at(self, day: date, hhmm: str) -> datetime:
        local = datetime.combine(day, wall_time.fromisoformat(hhmm), tzinfo=self.calendar.tz)
        return local.astimezone(UTC)


TRADE_COLUMNS = (
    "id instrument_id buy_order_id sell_order_id buyer_id seller_id price quantity "
    "notional_amount buyer_fee_amount seller_fee_amount kind aggressor_side auction_id "
    "trading_date executed_at"
)


def _copy_text(cursor: Any, table: str, columns: str, lines: list[str]) -> None:
    if not lines:
        return
    with cursor.copy(f"COPY {table} ({', '.join(columns.split())}) FROM STDIN") as copy:
        for start in range(0, len(lines), 20_000):
            copy.write("\n".join(lines[start : start + 20_000]) + "\n")


def _skip_row_triggers(raw: Any, cursor: Any) -> None:
    """A bulk load of rows that are consistent by construction: skip the per-row foreign key
    checks (a superuser's `session_replication_role = replica`, for this transaction only).
    Without the privilege, the deferred checks run at commit instead: slower, same rows."""
    import psycopg

    try:
        with raw.transaction():
            cursor.execute("SET LOCAL session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        pass


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _scratch_url(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    return urlunsplit(parts._replace(path=f"/{name}_rollup_bench"))


def _admin_connection(url: str) -> Any:
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)


def _create_database(url: str, scratch: str) -> None:
    name = urlsplit(scratch).path.lstrip("/")
    with _admin_connection(url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')


def _drop_database(url: str, scratch: str) -> None:
    name = urlsplit(scratch).path.lstrip("/")
    with _admin_connection(url) as admin:
        # FORCE: this process's pooled connections (DATABASE_POOL) are still open.
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
