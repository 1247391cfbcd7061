"""The benchmark's measurement code, run for about two seconds against a tiny in-process HTTP
server. No timing assertions: the machine is shared; these check what is counted and how."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bench.loadgen import CpuMeter, GetWorkload, percentile, run, summarize
from bench.orders import OrderMix


@pytest.fixture
async def target() -> AsyncIterator[str]:
    """GET /health/ answers at once; /api/v1/orders/ plays a market that accepts every order,
    and every tenth request stalls for 50 ms, so that requests queue behind it."""
    ids = itertools.count(1)
    calls = itertools.count(1)

    async def maybe_stall() -> None:
        if next(calls) % 10 == 0:
            await asyncio.sleep(0.05)

    async def health(request: web.Request) -> web.Response:
        await maybe_stall()
        return web.json_response({"status": "ok"})

    async def place(request: web.Request) -> web.Response:
        await maybe_stall()
        body = await request.json()
        status = "filled" if body.get("type") == "market" else "open"
        return web.json_response({"id": next(ids), "status": status, **body}, status=201)

    async def cancel(request: web.Request) -> web.Response:
        return web.json_response({"id": int(request.match_info["id"]), "status": "cancelled"})

    app = web.Application()
    app.router.add_get("/health/", health)
    app.router.add_post("/api/v1/orders/", place)
    app.router.add_delete("/api/v1/orders/{id}/", cancel)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_open_loop_counts_every_scheduled_request_from_its_intended_time(target: str) -> None:
    result = await run(
        target, GetWorkload("/health/"), clients=4, duration=1.0, rate=200, warmup=0.2
    )
    summary = summarize(result)

    # The schedule, not the server, sets how many requests fall in the window.
    assert summary["requests"] == pytest.approx(200, abs=8)
    assert summary["errors"] == 0
    assert summary["ok"] == summary["requests"]
    assert all(sample.intended <= sample.sent <= sample.done for sample in result.samples)
    latency = summary["latency_ms"]
    assert latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]


async def test_closed_loop_reports_throughput_and_service_time(target: str) -> None:
    result = await run(target, GetWorkload("/health/"), clients=2, duration=0.5, warmup=0.1)
    summary = summarize(result)

    assert summary["mode"] == "closed"
    assert summary["throughput_per_s"] > 0
    assert summary["answered"] == summary["ok"]
    assert summary["service_ms"]["p50"] <= summary["service_ms"]["p99"]


async def test_order_mix_places_cancels_and_remembers_open_orders(target: str) -> None:
    traders = [{"user_id": n, "token": f"token{n}"} for n in range(4)]
    workload = OrderMix(traders).use(["HOT"])

    result = await run(target, workload, clients=4, duration=0.5, rate=100, warmup=0.1)
    summary = summarize(result)

    kinds = summary["by_kind"]
    assert {"place_resting", "place_crossing", "cancel"} <= kinds.keys()
    assert summary["errors"] == 0
    assert all(len(orders) <= 40 for orders in workload.open)
    assert any(workload.open)


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]

    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0


def test_cpu_meter_measures_named_process_groups() -> None:
    meter = CpuMeter({"this": lambda: [os.getpid()]})
    meter.start()
    sum(range(200_000))

    used = meter.stop()

    assert set(used) == {"this", "machine"}
    assert used["this"] >= 0
