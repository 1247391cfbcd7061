"""WebSocket push latency: many clients on one instrument while orders trade through the API.

    python bench/realtime.py [--base-url URL] [--ws-base-url URL] [--clients 1000]
                             [--trades 200] [--rate 20] [--client-processes 4]
                             [--web-workers 2] [--json PATH]

`--clients` WebSocket clients (spread over `--client-processes` processes) subscribe to
`/ws/instruments/<SYMBOL>/` of a fresh instrument and wait for their snapshot. Then `--trades`
buy orders, each crossing one resting share, go to `POST /api/v1/orders/` at `--rate` per
second (or as fast as the server takes them). Every client notes when each `trade` message
arrives. The latency of one delivery is its arrival minus the moment the trade's outbox event
was written (`MarketEvent.created_at`, the last write of the transaction, so commit to receipt
plus the commit itself). Also reported: each trade's first client (the relay's share) and
its first to its last client (the fan-out's), request to receipt, deliveries missing, and
whether every client saw an unbroken sequence. `--ws-base-url` serves the clients from other
server processes than the orders (docs/scaling.md: WebSocket servers of their own).

With `--base-url` (scripts/run_bench.py) the server, PostgreSQL, Redis and the environment are
the caller's. Without it, this script serves the app itself: DATABASE_URL (PostgreSQL) must be
set; it migrates, starts a redis-server unless REDIS_URL is set, and runs
`uvicorn --workers N` with the production settings over HTTP (config.settings.bench) and a
demo clock placed in the continuous session.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CONNECT_CONCURRENCY = 50
# After the last order: how long a client still waits for trades it has not seen.
GRACE_SECONDS = 30.0
TRADE_HEAD = '{"type":"trade",'
SEQ_KEY = '"seq":'


# --- the WebSocket clients (child processes; no Django) ---------------------------------------


def client_process(
    url: str, count: int, expected_trades: int, ready: Any, results: Any, done: Any
) -> None:
    asyncio.run(_clients(url, count, expected_trades, ready, results, done))


class StreamClient(asyncio.Protocol):
    """A WebSocket client that only reads one stream and notes when each trade arrives.

    The clients share the machine with the server they measure, so they are as cheap as a
    reader can be: frames are parsed straight from the socket's bytes (a server's frames are
    unmasked and, from this server, unfragmented), only a trade is decoded whole, and the
    others give their sequence number from the text's head, `{"type":...,"seq":N,...`
    (market.broadcast encodes every message so). A library client (websockets) cost about
    70 microseconds of CPU per message: 1,000 clients used as much CPU as the server."""

    def __init__(self, request: bytes, expected: int) -> None:
        self.request = request
        self.expected = expected
        self.buffer = bytearray()
        self.upgraded = False
        self.last_seq: int | None = None
        self.gaps = 0
        self.receipts: list[tuple[int, float]] = []
        loop = asyncio.get_running_loop()
        self.snapshot: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.snapshot, self.finished):
            if not future.done():
                future.set_exception(ConnectionError(f"the server closed the stream: {exc}"))

    def data_received(self, data: bytes) -> None:
        at = time.time()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in self.buffer[: self.buffer.find(b"\r\n")]:
                raise ConnectionError(bytes(self.buffer[:end]).decode("latin-1"))
            del self.buffer[: end + 4]
            self.upgraded = True
        self._read_frames(at)

    def _read_frames(self, at: float) -> None:
        buffer, position = self.buffer, 0
        while len(buffer) - position >= 2:
            first, length = buffer[position], buffer[position + 1] & 0x7F
            head = 2
            if length >= 126:
                head = 4 if length == 126 else 10
                if len(buffer) - position < head:
                    break
                length = int.from_bytes(buffer[position + 2 : position + head], "big")
            if len(buffer) - position < head + length:
                break
            payload = bytes(buffer[position + head : position + head + length])
            position += head + length
            opcode = first & 0x0F
            if opcode == 0x1:
                if not first & 0x80:
                    raise ValueError("a fragmented message: this reader takes whole frames")
                self._message(payload.decode(), at)
            elif opcode == 0x9:  # ping: a pong, masked (with a zero key) as a client's must be
                assert self.transport is not None  # control frames carry at most 125 bytes
                self.transport.write(bytes((0x8A, 0x80 | length)) + bytes(4) + payload)
        del buffer[:position]

    def _message(self, text: str, at: float) -> None:
        if text.startswith(TRADE_HEAD):
            message = json.loads(text)
            seq = message["seq"]
            self.receipts.append((message["data"]["id"], at))
        else:
            start = text.index(SEQ_KEY) + len(SEQ_KEY)
            seq = int(text[start : text.index(",", start)])
        if self.last_seq is None:
            self.snapshot.set_result(None)  # the first message is the snapshot
        elif seq != self.last_seq + 1:
            self.gaps += 1
        self.last_seq = seq
        if len(self.receipts) >= self.expected and not self.finished.done():
            self.finished.set_result(None)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(bytes((0x88, 0x80)) + bytes(4))  # close, masked, no body
            self.transport.close()


async def _clients(
    url: str, count: int, expected: int, ready: Any, results: Any, done: Any
) -> None:
    """Each client reads until it has seen every trade, or GRACE_SECONDS after the last order
    was placed (`done`)."""
    parsed = urllib.parse.urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect() -> StreamClient:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {parsed.path} HTTP/1.1\r\nHost: {parsed.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n\r\n"
        ).encode()
        async with gate:
            _, client = await loop.create_connection(
                lambda: StreamClient(request, expected), host, port
            )
            await asyncio.wait_for(client.snapshot, 60)
        return client

    clients = await asyncio.gather(*(connect() for _ in range(count)))
    ready.put(count)

    async def watchdog() -> None:
        while not done.is_set():
            await asyncio.sleep(0.5)
        await asyncio.sleep(GRACE_SECONDS)

    stop = asyncio.ensure_future(watchdog())
    everything = asyncio.gather(*(client.finished for client in clients), return_exceptions=True)
    await asyncio.wait([stop, everything], return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    for client in clients:
        client.close()
    results.put([{"receipts": client.receipts, "gaps": client.gaps} for client in clients])


# --- the stack, when this script serves it ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: Any, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not come up within {seconds:.0f} s")


@contextmanager
def process(command: list[str], env: dict[str, str], log_path: Path) -> Any:
    with open(log_path, "wb") as log:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


def serve(stack: ExitStack, workers: int) -> str:
    """Redis (unless REDIS_URL), the migrated database, uvicorn: the base URL."""
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (or pass --base-url).")
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vx-bench-rt-")))
    if not os.environ.get("REDIS_URL"):
        redis_port = free_port()
        stack.enter_context(
            process(
                [shutil.which("redis-server") or "redis-server", "--port", str(redis_port),
                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                dict(os.environ), workdir / "redis.log",
            )
        )  # fmt: skip
        wait_until(lambda: port_open(redis_port), "redis-server")
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    # Half-way through a one-hour demo trading day: continuous trading for the whole run.
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.bench",
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-realtime-" + "x" * 40,
        MARKET_DEMO_DAY_SECONDS="3600",
        MARKET_DEMO_EPOCH=(datetime.now(UTC) - timedelta(seconds=1800)).isoformat(),
        MARKET_DEMO_MODE="false",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env = dict(os.environ)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    stack.enter_context(
        process(
            [PYTHON, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers), "--no-access-log",
             "--lifespan", "off", "--ws-per-message-deflate", "false"],
            env, workdir / "uvicorn.log",
        )
    )  # fmt: skip
    wait_until(lambda: port_open(port), "uvicorn", 90)
    return f"http://127.0.0.1:{port}"


# --- the market (Django in this process) ------------------------------------------------------


def market_setup(trades: int) -> dict[str, Any]:
    """A fresh instrument in continuous trading, a seller resting `trades` shares at $100.00
    one by one in the book, and a buyer with the cash to take them."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    import django

    django.setup()
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from market.services.control import market_open
    from market.services.ledger import cash_account_open, cash_deposit
    from market.services.listings import instrument_list
    from vehicles.models import Vehicle

    stamp = f"{int(time.time()) % 100000:05d}{os.getpid() % 100:02d}"
    seller = User.objects.create_user(username=f"rt-seller-{stamp}", password=None)
    buyer = User.objects.create_user(username=f"rt-buyer-{stamp}", password=None)
    for user in (seller, buyer):
        cash_account_open(user=user)
    cash_deposit(user_id=buyer.pk, amount=str(Decimal("101.00") * trades + 1000))
    vehicle = Vehicle.objects.create(
        owner=seller, make="Bench", model="Stream", year=2024, vin=_vin(stamp)
    )
    symbol = f"RT{stamp}"
    instrument_list(
        user_id=seller.pk, vehicle=vehicle, symbol=symbol, total_shares=max(1000, trades * 2)
    )
    market_open(symbol=symbol)
    from django.conf import settings

    return {
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
        "symbol": symbol,
        "seller_token": Token.objects.create(user=seller).key,
        "buyer_token": Token.objects.create(user=buyer).key,
    }


def _vin(stamp: str) -> str:
    from vehicles.validators import vin_check_digit

    body = f"1HGCM8263{int(stamp):08d}"[-17:]
    vin = body[:8] + "0" + body[9:]
    return vin[:8] + vin_check_digit(vin) + vin[9:]


def commit_times(symbol: str) -> tuple[dict[int, float], dict[int, int]]:
    """When each trade's outbox event was written, and each trade's buy order."""
    from market.models import MarketEvent, Trade

    rows = MarketEvent.objects.filter(stream=f"instrument.{symbol}", type="trade").values_list(
        "data", "created_at"
    )
    orders = Trade.objects.filter(instrument__symbol=symbol).values_list("id", "buy_order_id")
    return {data["id"]: at.timestamp() for data, at in rows}, dict(orders)


class Api:
    def __init__(self, base_url: str) -> None:
        parsed = urllib.parse.urlparse(base_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def place(self, token: str, **order: Any) -> dict[str, Any]:
        body = json.dumps(order)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        for attempt in (1, 2):
            try:
                self.connection.request("POST", "/api/v1/orders/", body=body, headers=headers)
                response = self.connection.getresponse()
                payload = json.loads(response.read() or b"{}")
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
                continue
            if response.status not in (200, 201):
                raise SystemExit(f"order refused: {response.status} {payload}")
            return dict(payload)
        raise AssertionError("unreachable")


# --- the run ----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def run(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    market = market_setup(args.trades)
    symbol = market["symbol"]
    api = Api(base_url)
    # The book: `trades` single shares at $100.00, each order one trade later.
    for _ in range(args.trades):
        api.place(market["seller_token"], symbol=symbol, side="sell", quantity=1, price="100.00")

    parsed = urllib.parse.urlparse(args.ws_base_url or base_url)
    ws_url = f"ws://{parsed.netloc}/ws/instruments/{symbol}/"
    context = multiprocessing.get_context("spawn")
    ready, results, done = context.Queue(), context.Queue(), context.Event()
    per_process = [
        args.clients // args.client_processes
        + (1 if n < args.clients % args.client_processes else 0)
        for n in range(args.client_processes)
    ]
    children = [
        context.Process(
            target=client_process, args=(ws_url, count, args.trades, ready, results, done)
        )
        for count in per_process
        if count
    ]
    connect_started = time.monotonic()
    for child in children:
        child.start()
    connected = sum(ready.get(timeout=600) for _ in children)
    connect_seconds = time.monotonic() - connect_started
    print(f"{connected} clients connected in {connect_seconds:.1f} s", flush=True)

    sent_at: dict[int, float] = {}
    request_ms: list[float] = []
    started = time.monotonic()
    for number in range(args.trades):
        due = started + number / args.rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        before = time.time()
        order = api.place(
            market["buyer_token"], symbol=symbol, side="buy", quantity=1, price="100.00"
        )
        request_ms.append((time.time() - before) * 1000)
        sent_at[order["id"]] = before
        if order.get("status") != "filled":
            raise SystemExit(f"a buy did not trade: {order}")
    trading_seconds = time.monotonic() - started
    done.set()

    collected = [
        delivery for _ in children for delivery in results.get(timeout=GRACE_SECONDS + 120)
    ]
    for child in children:
        child.join(timeout=30)
    committed, buy_orders = commit_times(symbol)
    latencies = [
        (at - committed[trade_id]) * 1000
        for client in collected
        for trade_id, at in client["receipts"]
        if trade_id in committed
    ]
    request_to_receipt = [
        (at - sent_at[buy_orders[trade_id]]) * 1000
        for client in collected
        for trade_id, at in client["receipts"]
        if buy_orders.get(trade_id) in sent_at
    ]
    expected = len(committed) * connected
    # Per trade, its first and its last client: the relay's share and the fan-out's.
    first_receipt: dict[int, float] = {}
    last_receipt: dict[int, float] = {}
    for client in collected:
        for trade_id, at in client["receipts"]:
            first_receipt[trade_id] = min(at, first_receipt.get(trade_id, at))
            last_receipt[trade_id] = max(at, last_receipt.get(trade_id, at))
    to_first = [(at - committed[t]) * 1000 for t, at in first_receipt.items() if t in committed]
    first_to_last = [(last_receipt[t] - at) * 1000 for t, at in first_receipt.items()]
    summary = {
        "channel_layer": market["channel_layer"],
        "clients": connected,
        "client_processes": len(children),
        "trades": len(committed),
        "trade_rate_per_s": round(len(committed) / trading_seconds, 1),
        "deliveries": len(latencies),
        "missing_deliveries": expected - len(latencies),
        "clients_with_sequence_gaps": sum(1 for client in collected if client["gaps"]),
        "connect_seconds": round(connect_seconds, 2),
        "p50_ms": round(percentile(latencies, 0.50), 2) if latencies else None,
        "p90_ms": round(percentile(latencies, 0.90), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 2) if latencies else None,
        "max_ms": round(max(latencies), 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "first_client_p50_ms": round(percentile(to_first, 0.5), 2) if to_first else None,
        "first_client_p99_ms": round(percentile(to_first, 0.99), 2) if to_first else None,
        "first_to_last_client_p50_ms": round(percentile(first_to_last, 0.5), 2)
        if first_to_last
        else None,
        "request_to_receipt_p50_ms": round(percentile(request_to_receipt, 0.5), 2)
        if request_to_receipt
        else None,
        "order_request_p50_ms": round(percentile(request_ms, 0.5), 2),
        "measured": "outbox event written (end of the order's transaction) -> client receipt",
    }
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="a running server (else: serve one here)")
    parser.add_argument(
        "--ws-base-url", help="the server of the WebSocket clients, when not --base-url's"
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--trades", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="trades per second, at most")
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn workers (serving here)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    with ExitStack() as stack:
        base_url = args.base_url or serve(stack, args.web_workers)
        summary = run(args, base_url)
    for key, value in summary.items():
        print(f"{key:>32}: {value}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["missing_deliveries"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
