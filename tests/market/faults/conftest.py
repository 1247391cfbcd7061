"""The fault suite's machinery (docs/hardening.md): services of the test's own to stop and
restart, ASGI servers and Django processes on them, and HTTP traders that keep count.

The cases that restart a service start their own: a PostgreSQL cluster (scripts/services.py)
and a redis-server on free ports, never the shared ones `make test` or a developer runs.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.utils import timezone

from tests.market.faults.checks import EXPECTED_REJECTIONS
from tests.market.realtime.conftest import RedisServer, port_open, wait_for

ROOT = Path(__file__).resolve().parents[3]


def _load_services() -> ModuleType:
    """scripts/services.py (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("vx_services", ROOT / "scripts" / "services.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


services = _load_services()


def child_env(**extra: str) -> dict[str, str]:
    """The environment of an agent: the test settings, the test's own services, no paper money,
    and a demo clock half-way through a trading day's continuous session (the same in every
    process, which time-machine's frozen clock cannot be)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        PYTHONPATH=str(ROOT),
        MARKET_DEMO_MODE="false",
        MARKET_DEMO_DAY_SECONDS="3600",
        MARKET_DEMO_EPOCH=(timezone.now() - timedelta(seconds=1800)).isoformat(),
        MARKET_DEMO_START_DATE="2026-11-18",
    )
    env.update(extra)
    return env


def production_env(env: dict[str, str]) -> dict[str, str]:
    """The same, with the production settings (pooled database connections, the throttles'
    counts and the channel layer in Redis), served over plain HTTP on the loopback."""
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "fault-suite-only-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "false",
    }


# --- services of the test's own ---------------------------------------------------------------


@dataclass
class Cluster:
    """A PostgreSQL cluster of the test's own, with the market's schema migrated."""

    url: str
    workdir: Path

    def restart(self) -> float:
        """`pg_ctl restart -m fast`: every session is cut, open transactions roll back. Returns
        the seconds it took."""
        started = time.monotonic()
        subprocess.run(
            [
                *services.AS_POSTGRES,
                services.postgres_tool("pg_ctl"),
                *("-D", str(self.workdir / "pgdata"), "-l", str(self.workdir / "postgres.log")),
                *("-m", "fast", "-w", "restart"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.monotonic() - started


@pytest.fixture
def own_postgres() -> Iterator[Cluster]:
    if services.postgres_bin_dir() is None:
        pytest.skip("needs the PostgreSQL server binaries")
    workdir = Path(tempfile.mkdtemp(prefix="vx-faults-pg-"))
    os.chmod(workdir, 0o755)  # the cluster may run as the postgres user
    try:
        with services.postgres_cluster(workdir, database="vx_faults", create_database=True) as url:
            migrate = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
                cwd=ROOT,
                env=child_env(DATABASE_URL=url),
                capture_output=True,
                text=True,
            )
            assert migrate.returncode == 0, migrate.stderr
            yield Cluster(url, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, without persistence: a restart forgets everything."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    server = RedisServer()
    server.start()
    yield server
    server.close()


class Agent:
    """tests/market/faults/agent.py running in a process of its own."""

    def __init__(self, command: str, env: dict[str, str], **argument: Any) -> None:
        self.command = command
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in result()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.market.faults.agent", command],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(argument))
        self.process.stdin.close()

    def result(self, timeout: float = 180) -> dict[str, Any]:
        """Its JSON answer, once it has finished."""
        assert self.process.stdout is not None
        output = self.process.stdout.read()
        self.process.wait(timeout=timeout)
        self.errors.seek(0)
        errors = self.errors.read().decode(errors="replace")
        self.errors.close()
        assert self.process.returncode == 0, f"agent {self.command} failed:\n{errors[-4000:]}"
        answer: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        return answer


def agent(command: str, env: dict[str, str], **argument: Any) -> dict[str, Any]:
    """Run tests/market/faults/agent.py in a process of its own; its JSON answer."""
    return Agent(command, env, **argument).result()


class Servers:
    """uvicorn processes serving config.asgi with the production settings, as production runs
    the web tier."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        env = production_env(env)
        self.ports = [services.free_port() for _ in range(count)]
        self.logs = Path(tempfile.mkdtemp(prefix="vx-faults-web-"))
        self.processes: list[subprocess.Popen[bytes]] = []
        # A failing case sets it: `stop` then leaves the logs for a look afterwards.
        self.keep_logs = False
        for port in self.ports:
            with (self.logs / f"{port}.log").open("wb") as log:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "uvicorn", "config.asgi:application",
                         "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
                         "--log-level", "warning"],
                        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
        for port in self.ports:
            wait_for(lambda port=port: port_open(port), f"uvicorn on {port}", seconds=90)

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)

    def text(self) -> str:
        return "\n".join(
            f"--- uvicorn {path.name}\n{path.read_text(errors='replace')}"
            for path in sorted(self.logs.iterdir())
        )

    def stop(self) -> None:
        for process in self.processes:
            services.stop_process(process)
        if self.keep_logs:
            print(f"\n[faults] the servers' logs are kept in {self.logs}:\n{self.text()[-6000:]}")
        else:
            shutil.rmtree(self.logs, ignore_errors=True)


# --- traders over HTTP ------------------------------------------------------------------------

RETRY_PAUSE = 0.2
# A request that got no definite answer (a 503, a cut connection) is retried as it was, with
# the same client_order_id, for up to this long; what is still open then counts as lost.
RETRY_SECONDS = 60.0


@dataclass
class Tally:
    """What the traders did. An order is `accepted` (the API answered with it), `rejected` (a
    business answer), or, when neither came within RETRY_SECONDS of retries, `lost`."""

    attempted: int = 0
    accepted: set[int] = field(default_factory=set)
    accepted_at: dict[int, float] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    cancels: Counter[str] = field(default_factory=Counter)
    # Answers without a definite outcome, retried: 503s by their code, cut connections.
    unavailable: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def summary(self) -> dict[str, Any]:
        return {
            "orders attempted": self.attempted,
            "accepted": len(self.accepted),
            "rejected": sum(self.rejected.values()),
            "lost": self.lost,
            "rejections": dict(self.rejected),
            "cancels": dict(self.cancels),
            "retried answers": dict(self.unavailable),
            "unexpected": len(self.unexpected),
        }


class HttpTraders:
    """Threads that trade at random through the REST API: crossing limit orders, some market
    and immediate-or-cancel ones, and cancels of their own open orders, each with a
    client_order_id so that a request that failed without an answer can be retried safely."""

    def __init__(self, ports: list[int], tokens: list[str], symbols: list[str], threads: int):
        self.ports, self.tokens, self.symbols = ports, tokens, symbols
        self.tally = Tally()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._trade, args=(n,), daemon=True) for n in range(threads)
        ]

    def __enter__(self) -> HttpTraders:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=RETRY_SECONDS + 30)

    def accepted_since(self, moment: float) -> int:
        with self.tally.lock:
            return sum(1 for at in self.tally.accepted_at.values() if at >= moment)

    def _trade(self, number: int) -> None:
        rng = random.Random(number)
        connections: dict[int, http.client.HTTPConnection] = {}
        own: dict[str, list[int]] = {token: [] for token in self.tokens}
        serial = 0
        try:
            while not self.stopping.is_set():
                token = rng.choice(self.tokens)
                port = self.ports[serial % len(self.ports)]
                if own[token] and rng.random() < 0.25:
                    order_id = own[token].pop(rng.randrange(len(own[token])))
                    answer = self._until_definite(
                        connections, port, token, "DELETE", f"/api/v1/orders/{order_id}/", None
                    )
                    if answer is not None:
                        status, body = answer
                        self._count_cancel(status, body)
                    continue
                serial += 1
                is_market = rng.random() < 0.1
                body = {
                    "symbol": rng.choice(self.symbols),
                    "side": rng.choice(["buy", "sell"]),
                    "type": "market" if is_market else "limit",
                    "quantity": rng.randint(1, 20),
                    "time_in_force": rng.choice(["day", "day", "gtc", "ioc"]),
                    "client_order_id": f"t{number}-{serial}",
                }
                if not is_market:
                    body["price"] = str(Decimal(rng.randint(9800, 10200)) / 100)
                with self.tally.lock:
                    self.tally.attempted += 1
                answer = self._until_definite(
                    connections, port, token, "POST", "/api/v1/orders/", body
                )
                if answer is None:
                    continue
                status, reply = answer
                if status in (200, 201):
                    with self.tally.lock:
                        self.tally.accepted.add(reply["id"])
                        self.tally.accepted_at.setdefault(reply["id"], time.monotonic())
                    if reply["status"] in ("open", "partially_filled"):
                        own[token].append(reply["id"])
                elif reply.get("code") in EXPECTED_REJECTIONS:
                    with self.tally.lock:
                        self.tally.rejected[reply["code"]] += 1
                else:
                    self._unexpected(f"POST {body} -> {status} {reply}")
        except Exception as error:  # a bug of the test itself: fail loudly
            self._unexpected(f"trader {number} crashed: {error!r}")
        finally:
            for connection in connections.values():
                connection.close()

    def _count_cancel(self, status: int, body: dict[str, Any]) -> None:
        if status == 200:
            with self.tally.lock:
                self.tally.cancels["cancelled"] += 1
        elif body.get("code") == "order_not_open":
            with self.tally.lock:
                self.tally.cancels["already ended"] += 1
        else:
            self._unexpected(f"cancel -> {status} {body}")

    def _unexpected(self, what: str) -> None:
        with self.tally.lock:
            self.tally.unexpected.append(what)

    def _until_definite(
        self,
        connections: dict[int, http.client.HTTPConnection],
        port: int,
        token: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> tuple[int, dict[str, Any]] | None:
        """Send, and resend the same request while the answer is not definite (503, or the
        connection cut before an answer). None when RETRY_SECONDS pass without one: lost."""
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                status, reply = self._send(connections, port, token, method, path, body)
            except (OSError, http.client.HTTPException) as error:
                connections.pop(port).close()
                reason = f"connection: {type(error).__name__}"
            else:
                if status != 503:
                    return status, reply
                reason = f"503 {reply.get('code')}"
                if reply.get("code") != "service_unavailable" or "Try again" not in reply.get(
                    "detail", ""
                ):
                    self._unexpected(f"{method} {path} -> 503 without a clear message: {reply}")
            with self.tally.lock:
                self.tally.unavailable[reason] += 1
            if time.monotonic() > deadline:
                with self.tally.lock:
                    if method == "POST":
                        self.tally.lost += 1
                    self.tally.unexpected.append(f"{method} {path} {body}: no answer, gave up")
                return None
            time.sleep(RETRY_PAUSE)
            port = self.ports[(self.ports.index(port) + 1) % len(self.ports)]

    @staticmethod
    def _send(
        connections: dict[int, http.client.HTTPConnection],
        port: int,
        token: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> tuple[int, dict[str, Any]]:
        connection = connections.get(port)
        if connection is None:
            connection = connections[port] = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=30
            )
        connection.request(
            method,
            path,
            body=json.dumps(body) if body is not None else None,
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        text = response.read()
        try:
            reply = json.loads(text) if text else {}
        except ValueError:
            reply = {"not json": text[:300].decode(errors="replace")}
        return response.status, reply


def report(case: str, figures: dict[str, Any]) -> None:
    """The case's figures, in the test output (`pytest -s`, or the captured output of a failure)."""
    print(f"\n[faults] {case}: " + ", ".join(f"{key} {value}" for key, value in figures.items()))
