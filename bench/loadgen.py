"""An HTTP load generator that does not hide queueing (no coordinated omission).

Each of `clients` virtual clients owns one keep-alive connection and sends one request at a
time. Open loop (`rate` given): client i's k-th request has an intended send time
`start + (i + k * clients) / rate`, a fixed schedule that does not wait for the server; when the
previous answer comes late the next request goes out at once, late, and its latency counts
from its INTENDED time, so the time it spent waiting behind a slow answer is in the figures
(the wrk2 model). Closed loop (`rate` None): each client sends its next request as soon as it
has the answer; that finds the throughput ceiling, and latency counts from the actual send.

The requests come from a `Workload`, which also hears every answer (to remember, e.g., which of
its orders are open). Only requests whose intended time falls inside the measured window (after
the warm-up) count; the run waits for their answers up to `grace` seconds, and a request that
is still out then counts as an error (timeout).

    python bench/loadgen.py URL --clients 16 --duration 5 [--rate 500] [--json PATH]

runs the trivial GET workload against URL (e.g. http://127.0.0.1:8000/api/v1/health/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Call:
    """One request: `kind` names it in the results (e.g. "place", "cancel")."""

    method: str
    path: str
    kind: str = "get"
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Workload:
    """What each client sends next, and what it learns from each answer."""

    def next_call(self, client: int, rng: random.Random) -> Call:
        raise NotImplementedError

    def on_answer(self, client: int, call: Call, status: int, data: Any) -> None:
        """Called with the decoded JSON body (or None) of every answer."""


class GetWorkload(Workload):
    def __init__(self, path: str):
        self.path = path

    def next_call(self, client: int, rng: random.Random) -> Call:
        return Call("GET", self.path)


@dataclass
class Sample:
    kind: str
    intended: float
    sent: float
    done: float
    status: int  # 0: no answer (connection error or timeout)
    code: str = ""


@dataclass
class RunResult:
    mode: str
    clients: int
    target_rate: float | None
    duration_s: float
    samples: list[Sample]
    unsent: int = 0
    # Every answer, the warm-up's and the stragglers' included: what the server did meanwhile.
    all_answers: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return summarize(self)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(result: RunResult) -> dict[str, Any]:
    samples = result.samples
    ok = [s for s in samples if 200 <= s.status < 300]
    # Business rejections (insufficient cash, self-trade, order already filled...): answered
    # correctly by the market, counted apart from errors.
    rejected = [s for s in samples if 400 <= s.status < 500]
    errors = [s for s in samples if s.status == 0 or s.status >= 500]
    answered = [s for s in samples if s.status]
    latencies = sorted((s.done - s.intended) * 1000 for s in answered)
    service = sorted((s.done - s.sent) * 1000 for s in answered)
    # Throughput: answers in the window per second of window.
    rate = len(answered) / result.duration_s if result.duration_s else 0.0

    def ms(value: float) -> float | None:
        return None if math.isnan(value) else round(value, 2)

    return {
        "mode": result.mode,
        "clients": result.clients,
        "target_rate": result.target_rate,
        "duration_s": round(result.duration_s, 2),
        "requests": len(samples),
        "answered": len(answered),
        "ok": len(ok),
        "rejected": len(rejected),
        "errors": len(errors) + result.unsent,
        "throughput_per_s": round(rate, 1),
        "ok_per_s": round(len(ok) / result.duration_s, 1) if result.duration_s else 0.0,
        "latency_ms": {
            "p50": ms(percentile(latencies, 0.50)),
            "p95": ms(percentile(latencies, 0.95)),
            "p99": ms(percentile(latencies, 0.99)),
            "max": ms(latencies[-1]) if latencies else None,
        },
        "service_ms": {
            "p50": ms(percentile(service, 0.50)),
            "p99": ms(percentile(service, 0.99)),
        },
        "by_kind": dict(Counter(s.kind for s in samples)),
        "by_status": {str(k): v for k, v in sorted(Counter(s.status for s in samples).items())},
        "rejection_codes": dict(Counter(s.code for s in rejected if s.code).most_common(8)),
        "all_answers": dict(result.all_answers),
    }


async def run(
    base_url: str,
    workload: Workload,
    *,
    clients: int,
    duration: float,
    rate: float | None = None,
    warmup: float = 1.0,
    grace: float = 10.0,
    seed: int = 1,
    timeout: float = 30.0,
) -> RunResult:
    """Drive `workload` against `base_url`; closed loop when `rate` is None."""
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients, force_close=False)
    samples: list[Sample] = []
    unsent = 0
    all_answers: Counter[str] = Counter()
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(
        base_url=base_url, connector=connector, timeout=client_timeout
    ) as session:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        window_start = start + warmup
        window_end = window_start + duration

        async def client(index: int) -> None:
            nonlocal unsent
            rng = random.Random(seed * 100_003 + index)
            k = 0
            next_free = start
            while True:
                if rate:
                    intended = start + (index + k * clients) / rate
                    if intended >= window_end:
                        return
                    delay = intended - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                else:
                    now = loop.time()
                    if now >= window_end:
                        return
                    intended = max(now, next_free)
                k += 1
                call = workload.next_call(index, rng)
                sent = loop.time()
                status, code, data = 0, "", None
                try:
                    async with session.request(
                        call.method,
                        call.path,
                        json=call.body,
                        headers=call.headers,
                    ) as response:
                        status = response.status
                        raw = await response.read()
                        if raw and response.content_type == "application/json":
                            data = json.loads(raw)
                            if status >= 400 and isinstance(data, dict):
                                code = str(data.get("code", ""))
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                done = loop.time()
                next_free = done
                workload.on_answer(index, call, status, data)
                if status:
                    all_answers["answered"] += 1
                    all_answers["ok" if 200 <= status < 300 else code or str(status)] += 1
                if intended >= window_start:
                    samples.append(Sample(call.kind, intended, sent, done, status, code))
                if rate and done > window_end + grace:
                    # Hopelessly behind: what this client still had to send never went out.
                    scheduled = math.ceil((window_end - start) * rate / clients - index / clients)
                    unsent += max(0, scheduled - k)
                    return

        await asyncio.gather(*(client(index) for index in range(clients)))
    return RunResult(
        mode="open" if rate else "closed",
        clients=clients,
        target_rate=rate,
        duration_s=duration,
        samples=samples,
        unsent=unsent,
        all_answers=all_answers,
    )


def run_sync(base_url: str, workload: Workload, **kwargs: Any) -> RunResult:
    return asyncio.run(run(base_url, workload, **kwargs))


# --- CPU accounting from /proc ---------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far, with their exited (waited-for)
    children's: PostgreSQL forks a backend per connection, and they come and go."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def process_tree(root_pid: int) -> list[int]:
    """The pid and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


class CpuMeter:
    """CPU seconds used by named groups of processes between `start()` and `stop()`."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]):
        self.groups = groups
        self._before: dict[str, float] = {}
        self._started = 0.0
        self.elapsed = 0.0

    def start(self) -> None:
        self._before = {name: cpu_seconds(find()) for name, find in self.groups.items()}
        self._before["total"] = _machine_busy()
        self._started = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Cores each group kept busy on average (its processes as they are now, so that
        processes born during the run count; those that ended count through their parent)."""
        elapsed = self.elapsed = time.monotonic() - self._started
        used = {
            name: round(max(0.0, cpu_seconds(find()) - self._before[name]) / elapsed, 2)
            for name, find in self.groups.items()
        }
        used["machine"] = round((_machine_busy() - self._before["total"]) / elapsed, 2)
        return used


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(value) for value in fields]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base, _, path = args.url.partition("://")
    host, _, rest = path.partition("/")
    result = run_sync(
        f"{base}://{host}",
        GetWorkload("/" + rest),
        clients=args.clients,
        duration=args.duration,
        rate=args.rate,
    )
    summary = result.summary()
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
