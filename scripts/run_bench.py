#!/usr/bin/env python3
"""`make bench`: the production stack on this machine, loaded, measured, in one run.

Starts a throwaway PostgreSQL cluster with production durability (fsync, synchronous_commit and
full_page_writes on) and a redis-server on free loopback ports, migrates, seeds the benchmark
market (bench/fixtures.py), then serves it as production does: uvicorn with several workers
(config.settings.bench: the production settings over plain HTTP), two Celery workers and beat.
Then, side by side:

1. ceilings: the empty DRF request (`GET /api/v1/health/`, closed loop) and pgbench tpcb-like
   with 1 and 8 clients on the same cluster;
2. order entry (bench/orders.py's mix) on one hot instrument and over 20 instruments, at 1, 16
   and 64 clients: closed loop for the throughput ceiling, then open loop at 80% of it for
   latency without coordinated omission (bench/loadgen.py), with CPU per process group and
   PostgreSQL's statement, commit and connection counts;
3. WebSocket push latency with 1,000 clients (bench/realtime.py, when present);
4. the opening auction of 100,000 resting orders (bench/fixtures.py auction);
5. the engine and rollup benchmarks (bench/engine.py, bench/rollup.py, when present);
6. `manage.py reconcile` over everything the processes wrote.

Writes bench/results/latest.json and latest.md. docs/benchmarks.md explains the method.

    python scripts/run_bench.py [--quick] [--duration S] [--web-workers N] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services import (  # scripts/ is not a package
    AS_POSTGRES,
    DURABLE_SETTINGS,
    ROOT,
    VENV_BIN,
    background,
    ensure_packages,
    free_port,
    log,
    port_open,
    postgres_cluster,
    postgres_tool,
    redis_server,
    wait_until,
)

from bench.loadgen import CpuMeter, GetWorkload, RunResult, process_tree, run, run_sync
from bench.orders import OrderMix

PYTHON = str(VENV_BIN / "python")
CLIENT_COUNTS = (1, 16, 64)
OPEN_LOOP_SHARE = 0.8
# The vehicle page measured a second time while its instrument trades at this rate (orders
# and cancels, open loop): every order moves the book, so most views read it afresh.
PAGE_TRADING_ORDERS_PER_S = 20.0
PAGE_TRADING_CLIENTS = 8
# A demo-clock day whose continuous session runs at real speed (75% of the cycle is 09:30 to
# 15:55, 6 h 25 min): the market stays open for the whole run.
DEMO_DAY_SECONDS = 30_800
TARGETS = {
    "hot_orders_per_s": 1000,
    "hot_p99_ms": 50,
    "hot_share_of_empty_request": 0.4,
    "spread_orders_per_s": 1200,
    "websocket_p99_ms": 100,
    "auction_ms": 3000,
    "vehicle_page_p95_ms": 30,
}


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.results: dict[str, Any] = {}
        self.env: dict[str, str] = {}
        self.base_url = ""
        self.database_url = ""
        self.processes: dict[str, list[int]] = {}

    # --- the stack ---------------------------------------------------------------------------

    def django_env(self, database_url: str, redis_url: str) -> dict[str, str]:
        epoch = datetime.now(UTC) - timedelta(seconds=DEMO_DAY_SECONDS * 0.10 + 120)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            DJANGO_SETTINGS_MODULE="config.settings.bench",
            SECRET_KEY=secrets.token_urlsafe(48),
            MARKET_DEMO_DAY_SECONDS=str(DEMO_DAY_SECONDS),
            MARKET_DEMO_EPOCH=epoch.isoformat(),
            MARKET_DEMO_MODE="false",
            PYTHONPATH=str(ROOT),
            LOG_LEVEL="WARNING",
        )
        if self.args.no_db_pool:
            env["DATABASE_POOL"] = "false"
        return env

    def manage(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "manage.py", *command],
            cwd=ROOT,
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
        )

    def start(self, stack: ExitStack) -> None:
        args = self.args
        log("starting PostgreSQL (durable) and Redis")
        redis_url = stack.enter_context(redis_server(self.workdir))
        self.database_url = stack.enter_context(
            postgres_cluster(
                self.workdir, settings=DURABLE_SETTINGS, max_connections=400, create_database=True
            )
        )
        self.env = self.django_env(self.database_url, redis_url)
        self.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        log("migrating and seeding the benchmark market")
        self.manage("migrate", "--noinput", "-v0")
        market_file = self.workdir / "market.json"
        subprocess.run(
            [PYTHON, "bench/fixtures.py", "market", "--users", "64", "--out", str(market_file)],
            cwd=ROOT,
            env=self.env,
            check=True,
        )
        self.market = json.loads(market_file.read_text())

        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        log(f"serving with uvicorn --workers {args.web_workers}, two Celery workers and beat")
        web = stack.enter_context(
            background(
                [
                    str(VENV_BIN / "uvicorn"),
                    "config.asgi:application",
                    *("--host", "127.0.0.1", "--port", str(port)),
                    *("--workers", str(args.web_workers)),
                    *("--loop", "uvloop", "--http", "httptools", "--no-access-log"),
                    # Compressing each small message once per client costs more than it saves.
                    *("--ws-per-message-deflate", "false"),
                ],
                env=self.env,
                log_path=self.workdir / "web.log",
            )
        )
        celery = [str(VENV_BIN / "celery"), "-A", "config"]
        workers = [
            stack.enter_context(
                background(
                    [
                        *celery,
                        "worker",
                        "--concurrency",
                        "1",
                        "-n",
                        f"bench{n}@%h",
                        "-l",
                        "WARNING",
                    ],
                    env=self.env,
                    log_path=self.workdir / f"celery{n}.log",
                )
            )
            for n in (1, 2)
        ]
        beat = stack.enter_context(
            background(
                [*celery, "beat", "-l", "WARNING", "-s", str(self.workdir / "beat-schedule")],
                env=self.env,
                log_path=self.workdir / "beat.log",
            )
        )
        wait_until(lambda: port_open(port), "uvicorn", 90)
        wait_until(self.healthy, "the health endpoint", 90)
        postmaster = int((self.workdir / "pgdata" / "postmaster.pid").read_text().split()[0])
        self.groups: dict[str, Callable[[], list[int]]] = {
            "web": lambda: process_tree(web.pid),
            "postgres": lambda: process_tree(postmaster),
            "celery": lambda: [pid for w in [*workers, beat] for pid in process_tree(w.pid)],
            "loadgen": lambda: [os.getpid()],
        }
        self.results["stack"] = {
            "web_workers": args.web_workers,
            "db_pool": not args.no_db_pool,
            "celery_workers": len(workers),
            "postgres": self.sql("SHOW server_version")[0][0],
            "postgres_settings": {
                name: self.sql(f"SHOW {name}")[0][0]
                for name in ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers")
            },
        }

    def healthy(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.base_url}/api/v1/health/", timeout=5) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def sql(self, query: str, database_url: str | None = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(database_url or self.database_url, autocommit=True) as connection:
            cursor = connection.execute(query)
            return list(cursor.fetchall()) if cursor.description else []

    # --- ceilings ----------------------------------------------------------------------------

    def empty_request(self) -> None:
        log("ceiling: the empty DRF request, closed loop")
        runs = {}
        for clients in (16, 64):
            result = run_sync(
                self.base_url,
                GetWorkload("/api/v1/health/"),
                clients=clients,
                duration=self.args.duration,
                warmup=1,
            ).summary()
            runs[str(clients)] = brief(result)
            print(f"  {clients} clients: {result['throughput_per_s']}/s", flush=True)
        self.results["empty_request"] = {
            "runs": runs,
            "ceiling_per_s": max(run["throughput_per_s"] for run in runs.values()),
        }

    def pgbench(self) -> None:
        log("ceiling: pgbench tpcb-like on the same cluster")
        url = self.database_url.rsplit("/", 1)[0] + "/pgbench"
        self.sql("DROP DATABASE IF EXISTS pgbench")
        self.sql("CREATE DATABASE pgbench")
        pgbench = postgres_tool("pgbench")
        connect = ["-h", "127.0.0.1", "-p", url.rsplit(":", 1)[1].split("/")[0], "-U", "postgres"]
        subprocess.run(
            [*AS_POSTGRES, pgbench, "-i", "-q", "-s", "10", *connect, "pgbench"],
            check=True,
            capture_output=True,
        )
        figures = {}
        for clients in (1, 8):
            output = subprocess.run(
                [
                    *(*AS_POSTGRES, pgbench, "-c", str(clients), "-j", str(clients)),
                    *("-T", str(self.args.pgbench_seconds), *connect, "pgbench"),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            found = re.search(r"tps = ([\d.]+) \(without initial", output)
            latency = re.search(r"latency average = ([\d.]+) ms", output)
            figures[str(clients)] = {
                "tps": round(float(found.group(1)), 1) if found else None,
                "latency_avg_ms": float(latency.group(1)) if latency else None,
            }
            print(f"  {clients} client(s): {figures[str(clients)]['tps']} tps", flush=True)
        self.sql("DROP DATABASE pgbench")
        self.results["pgbench"] = figures

    # --- the vehicle page --------------------------------------------------------------------

    def vehicle_page(self) -> None:
        """The hot instrument's vehicle page, after the order runs have filled its book: one
        client, closed loop, so a request's latency is the server's time plus the loopback.
        Then again while the instrument trades (PAGE_TRADING_ORDERS_PER_S)."""
        log("the vehicle page of the hot instrument, full book, one client")
        path = f"/vehicles/{self.market['vehicle_ids'][0]}/"
        page = GetWorkload(path)
        result = run_sync(
            self.base_url, page, clients=1, duration=self.args.duration, warmup=1
        ).summary()
        levels = self.sql(
            "SELECT count(DISTINCT (o.side, o.price)) FROM market_order o "
            "JOIN market_instrument i ON i.id = o.instrument_id "
            f"WHERE i.symbol = '{self.market['symbols'][0]}' "
            "AND o.status IN ('open', 'partially_filled')"
        )
        print(f"  {result['latency_ms']} over {result['requests']} requests", flush=True)
        log(f"the same page while the instrument trades, {PAGE_TRADING_ORDERS_PER_S} orders/s")
        orders = OrderMix(self.market["traders"], self.market["mid_price"]).use(
            self.market["symbols"][:1]
        )

        async def page_while_trading() -> tuple[RunResult, RunResult]:
            return await asyncio.gather(
                run(self.base_url, page, clients=1, duration=self.args.duration, warmup=1),
                run(
                    self.base_url,
                    orders,
                    clients=PAGE_TRADING_CLIENTS,
                    duration=self.args.duration,
                    rate=PAGE_TRADING_ORDERS_PER_S,
                    warmup=1,
                ),
            )

        page_run, order_run = asyncio.run(page_while_trading())
        trading, trading_orders = page_run.summary(), order_run.summary()
        self.results["vehicle_page"] = {
            "path": path,
            "resting_price_levels": levels[0][0] if levels else None,
            "errors": result["errors"],
            "requests": result["requests"],
            "latency_ms": result["latency_ms"],
            "while_trading": {
                "orders_per_s": trading_orders["throughput_per_s"],
                "order_errors": trading_orders["errors"],
                "errors": trading["errors"],
                "requests": trading["requests"],
                "latency_ms": trading["latency_ms"],
            },
        }
        print(
            f"  {trading['latency_ms']} over {trading['requests']} requests, beside "
            f"{trading_orders['throughput_per_s']} orders/s",
            flush=True,
        )

    # --- order entry -------------------------------------------------------------------------

    def orders(self) -> None:
        workload = OrderMix(self.market["traders"], self.market["mid_price"])
        symbols = self.market["symbols"]
        scenarios = {"hot": symbols[:1], "spread": symbols[:20]}
        self.results["orders"] = {}
        for name, chosen in scenarios.items():
            workload.use(chosen)
            runs: dict[str, Any] = {}
            for clients in CLIENT_COUNTS:
                log(f"orders, {name} ({len(chosen)} instrument(s)), {clients} client(s)")
                closed = self.measured(workload, clients, rate=None)
                rate = max(1.0, round(closed["throughput_per_s"] * OPEN_LOOP_SHARE, 1))
                opened = self.measured(workload, clients, rate=rate)
                runs[str(clients)] = {"closed": closed, "open": opened}
                print(
                    f"  closed: {closed['throughput_per_s']}/s p99 {closed['latency_ms']['p99']} ms"
                    f" | open at {rate}/s: {opened['throughput_per_s']}/s "
                    f"p50/p95/p99 {opened['latency_ms']['p50']}/{opened['latency_ms']['p95']}/"
                    f"{opened['latency_ms']['p99']} ms, errors {opened['errors']}, "
                    f"batch {closed['db'].get('batch_size')}, "
                    f"statements/order {closed['db'].get('statements_per_request')}",
                    flush=True,
                )
            self.results["orders"][name] = {"symbols": len(chosen), "runs": runs}

    def measured(self, workload: OrderMix, clients: int, rate: float | None) -> dict[str, Any]:
        before = self.db_counters()
        self.sql("SELECT pg_stat_statements_reset()")
        meter = CpuMeter(self.groups)
        meter.start()
        result = run_sync(
            self.base_url,
            workload,
            clients=clients,
            duration=self.args.duration,
            rate=rate,
            warmup=self.args.warmup,
        ).summary()
        cpu = meter.stop()
        after = self.db_counters()
        summary = brief(result)
        summary["cpu_cores"] = cpu
        # CPU time our stack spent per answered request: steadier than rates on a shared machine.
        # Counters cover the whole run, warm-up included, so they are divided by every answer.
        answered = max(1, result["all_answers"].get("answered", 0))
        summary["cpu_ms_per_request"] = {
            name: round(cores * meter.elapsed / answered * 1000, 2)
            for name, cores in cpu.items()
            if name in ("web", "postgres", "celery")
        }
        summary["db"] = self.db_figures(before, after, result)
        return summary

    def db_counters(self) -> dict[str, float]:
        [(commits, sessions, wal_syncs)] = self.sql(
            "SELECT xact_commit, sessions, (SELECT wal_sync FROM pg_stat_wal) "
            "FROM pg_stat_database WHERE datname = current_database()"
        )
        return {
            "commits": float(commits),
            "sessions": float(sessions),
            "wal_syncs": float(wal_syncs),
        }

    def db_figures(
        self, before: dict[str, float], after: dict[str, float], result: dict[str, Any]
    ) -> dict[str, Any]:
        """Per answered request: commits, new connections, statements; combined batches."""
        rows = self.sql(
            "SELECT query, calls, total_exec_time FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        statements = [
            row for row in rows if not re.match(r"(?i)\s*(begin|commit|rollback)", row[0])
        ]
        batches = sum(
            row[1]
            for row in rows
            if '"market_instrument"' in row[0]
            and "FOR UPDATE" in row[0]
            and '"market_instrument"."symbol" =' in row[0]
        )
        answers = result["all_answers"]
        answered = max(1, answers.get("answered", 0))
        to_book = answers.get("ok", 0) + answers.get("order_not_open", 0)
        top = sorted(statements, key=lambda row: -row[2])[:6]
        by_part: dict[str, list[float]] = {}
        for query, calls, total_ms in statements:
            part = by_part.setdefault(statement_part(query), [0.0, 0.0])
            part[0] += calls
            part[1] += total_ms
        return {
            # Every transaction, read-only ones (each autocommit SELECT) included.
            "transactions_per_request": round((after["commits"] - before["commits"]) / answered, 2),
            # WAL flushes to disk: the durable commits' cost (one may cover several commits).
            "wal_syncs_per_request": round(
                (after["wal_syncs"] - before["wal_syncs"]) / answered, 2
            ),
            "connections_per_request": round(
                (after["sessions"] - before["sessions"]) / answered, 2
            ),
            "statements_per_request": round(sum(row[1] for row in statements) / answered, 1),
            "statement_ms_per_request": round(sum(row[2] for row in statements) / answered, 2),
            "by_part_per_request": {
                part: {
                    "statements": round(calls / answered, 1),
                    "exec_ms": round(total_ms / answered, 2),
                }
                for part, (calls, total_ms) in sorted(by_part.items())
            },
            "batches": batches,
            "batch_size": round(to_book / batches, 2) if batches else None,
            "top_statements": [
                {
                    "calls": row[1],
                    "total_ms": round(row[2], 1),
                    "query": " ".join(row[0].split())[:110],
                }
                for row in top
            ],
        }

    # --- the rest ----------------------------------------------------------------------------

    def realtime(self) -> None:
        script = ROOT / "bench" / "realtime.py"
        if not script.exists():
            self.results["websocket"] = {"skipped": "bench/realtime.py is not there yet"}
            return
        log("WebSocket push latency (bench/realtime.py)")
        help_text = subprocess.run(
            [PYTHON, str(script), "--help"], cwd=ROOT, env=self.env, capture_output=True, text=True
        ).stdout
        command = [PYTHON, str(script)]
        for option, value in (
            ("--url", self.base_url),
            ("--base-url", self.base_url),
            ("--clients", "1000"),
            # A fixed load. Its default (20/s, at most) left the rate to how fast one client
            # could place orders one after another: 4.5 to 5.8 trades/s until the seventh
            # session, whose faster order path made it 6.9/s, and so more frames per second
            # than the earlier runs sent (docs/benchmarks.md).
            ("--rate", "5"),
        ):
            if re.search(rf"{option}\b", help_text):
                command += [option, value]
        self.results["websocket"] = self.script_json("websocket", command, timeout=600)

    def auction(self) -> None:
        orders = self.args.auction_orders
        log(f"opening auction of {orders:,} resting orders")
        self.results["auction"] = self.script_json(
            "auction",
            [
                *(PYTHON, "bench/fixtures.py", "auction", "--orders", str(orders)),
                *("--users", str(max(100, orders // 200))),
            ],
            timeout=self.args.auction_timeout,
        )

    def engine(self) -> None:
        if not (ROOT / "bench" / "engine.py").exists():
            self.results["engine"] = {"skipped": "bench/engine.py is not there"}
            return
        log("matching engine (bench/engine.py)")
        command = [PYTHON, "bench/engine.py"]
        if self.args.quick:
            command += ["--orders", "200000", "--runs", "1"]
        self.results["engine"] = self.script_json("engine", command, timeout=900)

    def rollup(self) -> None:
        if not (ROOT / "bench" / "rollup.py").exists():
            self.results["rollup"] = {"skipped": "bench/rollup.py is not there yet"}
            return
        log("nightly rollup (bench/rollup.py, in a scratch database on the same cluster)")
        # Smaller than its own default (100,000 users, 1,000,000 trades) to fit make bench's
        # time budget; run bench/rollup.py alone for the full size.
        command = [PYTHON, "bench/rollup.py"]
        if self.args.quick:
            command += ["--users", "10000", "--trades", "100000"]
        else:
            command += ["--users", "20000", "--trades", "200000"]
        self.results["rollup"] = self.script_json("rollup", command, timeout=900)

    def script_json(self, name: str, command: list[str], timeout: float) -> dict[str, Any]:
        """Run a benchmark script with `--json PATH`; its figures, or what went wrong."""
        path = self.workdir / f"{name}.json"
        started = time.monotonic()
        try:
            done = subprocess.run(
                [*command, "--json", str(path)],
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        (self.workdir / f"{name}.log").write_text(done.stdout + done.stderr)
        tail = (done.stdout + done.stderr).strip().splitlines()[-6:]
        if not path.exists():
            print("\n".join(tail), flush=True)
            return {"error": f"exit {done.returncode}", "output_tail": tail}
        figures: dict[str, Any] = json.loads(path.read_text())
        if done.returncode != 0:
            # The script measured, and says by its exit status that something fell short.
            figures["exit_status"] = done.returncode
            figures["output_tail"] = tail
        print(f"  done in {time.monotonic() - started:.0f} s (exit {done.returncode})", flush=True)
        return figures

    def reconcile(self) -> None:
        log("reconcile after the multi-process run")
        # Let the workers finish what the load left queued (relays, catch-up) first.
        time.sleep(3)
        done = self.manage("reconcile", check=False)
        output = (done.stdout + done.stderr).strip()
        print("  " + output.replace("\n", "\n  ")[:2000], flush=True)
        counts = self.sql(
            "SELECT (SELECT count(*) FROM market_order), (SELECT count(*) FROM market_trade)"
        )[0]
        self.results["reconcile"] = {
            "passed": done.returncode == 0,
            "output": output.splitlines()[:20],
            "orders": counts[0],
            "trades": counts[1],
        }


def statement_part(query: str) -> str:
    """A coarse label for a statement (pg_stat_statements' normalized text): which part of the
    request path ran it."""
    if "set_config" in query or re.match(r"(?i)\s*(set|show)\s", query):
        return "connection setup"
    if '"authtoken_token"' in query or '"django_session"' in query:
        return "authentication"
    if '"market_streamcursor"' in query or (
        '"market_marketevent"' in query and not query.lstrip().upper().startswith("INSERT")
    ):
        return "real-time relay"
    state = (
        'SUM(("market_order"."quantity"' in query
        or ("ROW_NUMBER() OVER" in query and "market_order" in query)
        or (query.startswith("SELECT") and 'FROM "market_instrument"' in query)
    )
    if state and "FOR UPDATE" not in query:
        return "relay state (ticker, book)"
    return "order batch and response"


def brief(summary: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "mode",
        "clients",
        "target_rate",
        "duration_s",
        "requests",
        "answered",
        "ok",
        "rejected",
        "errors",
        "throughput_per_s",
        "latency_ms",
        "service_ms",
        "by_kind",
        "rejection_codes",
        "all_answers",
    )
    return {key: summary[key] for key in keep}


# --- the verdicts and the report ---------------------------------------------------------------


def derive(results: dict[str, Any]) -> dict[str, Any]:
    """Sustained rates, ratios to the ceilings, and each target met or not."""
    ceiling = results.get("empty_request", {}).get("ceiling_per_s") or None
    pgbench8 = (results.get("pgbench", {}).get("8") or {}).get("tps")
    derived: dict[str, Any] = {}
    for name, scenario in results.get("orders", {}).items():
        for clients, runs in scenario["runs"].items():
            opened = runs["open"]
            key = f"{name}_{clients}"
            sustained = opened["throughput_per_s"] if opened["errors"] == 0 else 0.0
            derived[key] = {
                "peak_per_s": runs["closed"]["throughput_per_s"],
                "sustained_per_s": sustained,
                "p50_ms": opened["latency_ms"]["p50"],
                "p95_ms": opened["latency_ms"]["p95"],
                "p99_ms": opened["latency_ms"]["p99"],
                "share_of_empty_request": round(runs["closed"]["throughput_per_s"] / ceiling, 3)
                if ceiling
                else None,
                "per_pgbench_8_tps": round(runs["closed"]["throughput_per_s"] / pgbench8, 3)
                if pgbench8
                else None,
            }
    hot = derived.get("hot_64", {})
    spread = derived.get("spread_64", {})
    websocket = results.get("websocket", {})
    ws_p99 = find_number(websocket, ("p99_ms", "p99"))
    auction_ms = results.get("auction", {}).get("auction_ms")
    page_p95 = (results.get("vehicle_page", {}).get("latency_ms") or {}).get("p95")
    targets = TARGETS
    verdicts = {
        "hot_64_sustained_1000_per_s_p99_50_ms": bool(
            hot
            and hot["sustained_per_s"] >= targets["hot_orders_per_s"]
            and (hot["p99_ms"] or 1e9) <= targets["hot_p99_ms"]
        ),
        "hot_64_at_least_0.4_of_empty_request": bool(
            hot and (hot["share_of_empty_request"] or 0) >= targets["hot_share_of_empty_request"]
        ),
        "spread_64_1200_per_s": bool(
            spread and spread["peak_per_s"] >= targets["spread_orders_per_s"]
        ),
        "websocket_p99_100_ms": None if ws_p99 is None else ws_p99 <= targets["websocket_p99_ms"],
        "auction_100k_3_s": None if auction_ms is None else auction_ms <= targets["auction_ms"],
        "vehicle_page_p95_30_ms": None
        if page_p95 is None
        else page_p95 <= targets["vehicle_page_p95_ms"],
        "reconcile_passes": results.get("reconcile", {}).get("passed"),
    }
    return {"orders": derived, "targets": targets, "met": verdicts}


def find_number(data: Any, names: tuple[str, ...]) -> float | None:
    """The first number under one of `names`, searching nested dicts (bench/realtime.py's
    shape is its own)."""
    if isinstance(data, dict):
        for name in names:
            value = data.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        for value in data.values():
            found = find_number(value, names)
            if found is not None:
                return found
    return None


def markdown(results: dict[str, Any]) -> str:
    derived = results["derived"]
    ceiling = results.get("empty_request", {}).get("ceiling_per_s")
    pgbench = results.get("pgbench", {})
    lines = [
        f"# make bench: {results['started_at']} ({results['mode']})",
        "",
        f"{results['machine']['cpus']} cores, Python {results['machine']['python']}, "
        f"{results['stack'].get('web_workers')} uvicorn workers, 2 Celery workers, PostgreSQL "
        f"{results['stack'].get('postgres')} (fsync, synchronous_commit on). Load average at "
        f"start {results['machine']['load_average_at_start']}: the machine is shared.",
        "",
        "| ceiling | figure |",
        "|---|---|",
        f"| empty DRF request (`/api/v1/health/`) | {ceiling} req/s |",
        f"| pgbench tpcb-like, 1 client | {(pgbench.get('1') or {}).get('tps')} tps |",
        f"| pgbench tpcb-like, 8 clients | {(pgbench.get('8') or {}).get('tps')} tps |",
        "",
        "| orders | clients | peak (closed loop) /s | open loop at 80%: achieved /s | p50 ms | "
        "p95 ms | p99 ms | peak / empty request | batch size | statements/req | WAL syncs/req |"
        " new connections/req | CPU ms/req web + PostgreSQL |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, scenario in results.get("orders", {}).items():
        for clients, runs in scenario["runs"].items():
            figures = derived["orders"][f"{name}_{clients}"]
            db = runs["closed"]["db"]
            lines.append(
                f"| {name} ({scenario['symbols']}) | {clients} | {figures['peak_per_s']} | "
                f"{runs['open']['throughput_per_s']} (target {runs['open']['target_rate']}, "
                f"errors {runs['open']['errors']}) | {figures['p50_ms']} | {figures['p95_ms']} | "
                f"{figures['p99_ms']} | {figures['share_of_empty_request']} | "
                f"{db.get('batch_size')} | {db.get('statements_per_request')} | "
                f"{db.get('wal_syncs_per_request')} | {db.get('connections_per_request')} | "
                f"{cpu_ms(runs['closed'])} |"
            )
    lines += statement_table(results)
    auction = results.get("auction", {})
    websocket = results.get("websocket", {})
    engine = results.get("engine", {})
    rollup = results.get("rollup", {})
    reconcile = results.get("reconcile", {})
    lines += [
        "",
        "| other | figure |",
        "|---|---|",
        auction_row(auction),
        websocket_row(websocket),
        vehicle_page_row(results.get("vehicle_page", {})),
        f"| engine (bench/engine.py) | {engine_summary(engine)} |",
        f"| nightly rollup (bench/rollup.py) | {rollup_summary(rollup)} |",
        f"| reconcile after the run | {'passed' if reconcile.get('passed') else 'FAILED'} "
        f"({reconcile.get('orders')} orders, {reconcile.get('trades')} trades) |",
        "",
        "| target | met |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value} |" for name, value in derived["met"].items()]
    lines += ["", f"Total run time {results['elapsed_s']:.0f} s. Method: docs/benchmarks.md.", ""]
    return "\n".join(lines)


def cpu_ms(run: dict[str, Any]) -> str:
    used = run.get("cpu_ms_per_request", {})
    return f"{used.get('web', '?')} + {used.get('postgres', '?')}"


def statement_table(results: dict[str, Any]) -> list[str]:
    """Statements and their execution time per request, by part of the path (closed loop)."""
    rows = []
    for name, scenario in results.get("orders", {}).items():
        for clients, runs in scenario["runs"].items():
            parts = runs["closed"]["db"].get("by_part_per_request", {})
            cells = ", ".join(
                f"{part} {figures['statements']} ({figures['exec_ms']} ms)"
                for part, figures in parts.items()
            )
            rows.append(f"| {name} | {clients} | {cells} |")
    if not rows:
        return []
    return [
        "",
        "| orders | clients | statements per request by part (their execution time) |",
        "|---|---|---|",
        *rows,
    ]


def vehicle_page_row(page: dict[str, Any]) -> str:
    if "latency_ms" not in page:
        return "| vehicle page | not run |"
    latency = page["latency_ms"]
    row = (
        f"| vehicle page of the hot instrument ({page.get('resting_price_levels')} resting price "
        f"levels), one client | p50 {latency['p50']} ms, p95 {latency['p95']} ms over "
        f"{page['requests']} requests, {page['errors']} errors |"
    )
    trading = page.get("while_trading")
    if trading:
        latency = trading["latency_ms"]
        row += (
            f"\n| the same page while the instrument trades ({trading['orders_per_s']} orders/s"
            f", {trading['order_errors']} errors) | p50 {latency['p50']} ms, p95 "
            f"{latency['p95']} ms over {trading['requests']} requests, {trading['errors']} "
            "errors |"
        )
    return row


def auction_row(auction: dict[str, Any]) -> str:
    if not isinstance(auction.get("orders"), int):
        return f"| opening auction | {summarize_script(auction)} |"
    return (
        f"| opening auction, {auction['orders']:,} resting orders, end to end | "
        f"{auction['auction_ms']} ms: {auction.get('until_commit_ms')} ms to commit, "
        f"{auction.get('after_commit_ms')} ms after-commit relay ({auction.get('trades')} "
        "trades) |"
    )


def websocket_row(figures: dict[str, Any]) -> str:
    if "p99_ms" not in figures:
        return f"| WebSocket push | {summarize_script(figures)} |"
    return (
        f"| WebSocket push, {figures.get('clients')} clients, outbox event to receipt | p50 "
        f"{figures.get('p50_ms')} ms, p99 {figures['p99_ms']} ms; "
        f"{figures.get('deliveries')} deliveries, {figures.get('missing_deliveries')} missing |"
    )


def engine_summary(figures: dict[str, Any]) -> str:
    try:
        continuous = figures["continuous"]
        ours = continuous["engines"]["market.engine"]
        return (
            f"{ours['orders_per_s']:,} commands/s ({continuous['commands']:,} commands); "
            f"uncross of {figures['uncross']['orders']:,} orders {figures['uncross']['median_ms']} ms"
        )
    except (KeyError, TypeError):
        return summarize_script(figures)


def rollup_summary(figures: dict[str, Any]) -> str:
    if "rollup_s" not in figures:
        return summarize_script(figures)
    return (
        f"{figures.get('users'):,} users, {figures.get('trades'):,} trades: rollup of "
        f"{len(figures.get('days', []))} days {figures['rollup_s']} s, nightly "
        f"{figures.get('nightly_s')} s, live board {figures.get('live_board_s')} s"
    )


def summarize_script(figures: dict[str, Any]) -> str:
    if not figures:
        return "not run"
    if "skipped" in figures or "error" in figures:
        return str(figures.get("skipped") or figures.get("error"))
    text = json.dumps(figures)
    return text if len(text) < 200 else text[:197] + "..."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs: about 3 minutes")
    parser.add_argument("--duration", type=float, help="seconds per measured load run")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--auction-orders", type=int, help="resting orders (100,000; --quick: 20,000)"
    )
    parser.add_argument("--auction-timeout", type=float, default=900)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--only",
        default="ceilings,orders,realtime,auction,engine,rollup",
        help="comma-separated parts to run (reconcile always runs)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite latest.md from latest.json in --out"
    )
    parser.add_argument(
        "--no-db-pool",
        action="store_true",
        help="a new database connection per request, as without DATABASE_POOL (a comparison)",
    )
    args = parser.parse_args()
    if args.render:
        stored = json.loads((args.out / "latest.json").read_text())
        stored["derived"] = derive(stored)
        (args.out / "latest.md").write_text(markdown(stored))
        return 0
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.pgbench_seconds = 3 if args.quick else 10
    args.auction_orders = args.auction_orders or (20_000 if args.quick else 100_000)
    parts = set(args.only.split(","))
    ensure_packages(browser=False, rerun="make bench")
    started = time.monotonic()
    results: dict[str, Any] = {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "duration_s_per_run": args.duration,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
    }
    workdir = Path(tempfile.mkdtemp(prefix="vx-bench-"))
    os.chmod(workdir, 0o755)
    bench = Bench(args, workdir)
    bench.results = results
    failed = False
    steps = [
        ("ceilings", bench.empty_request),
        ("ceilings", bench.pgbench),
        ("orders", bench.orders),
        ("orders", bench.vehicle_page),
        ("realtime", bench.realtime),
        ("auction", bench.auction),
        ("engine", bench.engine),
        ("rollup", bench.rollup),
    ]
    try:
        with ExitStack() as stack:
            bench.start(stack)
            for part, step in steps:
                if part in parts:
                    try:
                        step()
                    except Exception:  # one part's failure is reported; the others still run
                        failed = True
                        traceback.print_exc()
                        results.setdefault("failures", []).append(traceback.format_exc()[-800:])
            bench.reconcile()
            results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        if args.keep:
            print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["derived"] = derive(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=1) + "\n")
    report = markdown(results)
    (args.out / "latest.md").write_text(report)
    log("results")
    print(report, flush=True)
    print(f"wrote {args.out / 'latest.json'} and {args.out / 'latest.md'}")
    return 1 if failed or not results.get("reconcile", {}).get("passed") else 0


if __name__ == "__main__":
    sys.exit(main())
