"""Real-time stream fixtures: WebSocket clients against config.asgi, traders, a listed car.

Tests that publish use `django_db(transaction=True)`: events go out only after a commit.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import suppress
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from config.asgi import application
from market import relay

ORIGIN = (b"origin", b"http://localhost")
RECEIVE_SECONDS = 10.0

db = database_sync_to_async


@pytest.fixture(autouse=True)
def in_memory_layer(settings) -> None:
    """The embedded mode's layer, roomy enough that bursts are never dropped."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 10_000},
        }
    }


class Stream:
    """A connected WebSocket client that reads JSON messages."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def receive(self, timeout: float = RECEIVE_SECONDS) -> dict[str, Any]:
        return await self.communicator.receive_json_from(timeout=timeout)

    async def receive_until(
        self, done: Callable[[dict[str, Any]], bool], timeout: float = RECEIVE_SECONDS
    ) -> list[dict[str, Any]]:
        """Messages up to and including the first for which `done` is true."""
        received = []
        while True:
            message = await self.receive(timeout)
            received.append(message)
            if done(message):
                return received

    async def drain(self, quiet: float = 0.4) -> list[dict[str, Any]]:
        """Every message until none comes for `quiet` seconds."""
        received = []
        while not await self.communicator.receive_nothing(timeout=quiet):
            received.append(await self.receive())
        return received

    async def send(self, content: dict[str, Any]) -> None:
        await self.communicator.send_to(text_data=json.dumps(content))

    async def close_code(self, timeout: float = RECEIVE_SECONDS) -> int | None:
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.close", output
        return output.get("code")

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.communicator.receive_nothing(timeout=timeout)


@pytest.fixture
async def open_stream() -> AsyncIterator[Callable[..., Any]]:
    """open_stream("/ws/me/", cookie=..., origin=...) -> (accepted, Stream)."""
    communicators: list[WebsocketCommunicator] = []

    async def open_(
        path: str, *, cookie: str | None = None, origin: bytes | None = ORIGIN[1]
    ) -> tuple[bool, Stream]:
        headers = []
        if origin is not None:
            headers.append((b"origin", origin))
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        communicators.append(communicator)
        accepted, _ = await communicator.connect(timeout=RECEIVE_SECONDS)
        return accepted, Stream(communicator)

    yield open_
    for communicator in communicators:
        with suppress(Exception):
            await communicator.disconnect(timeout=1)
    # No relay of this test may still write when the database is flushed for the next.
    relay.cancel_trailing()
    await asyncio.gather(*list(relay._tasks), return_exceptions=True)
    # The database connections of the threads that ran the test's database calls.
    await db(connections.close_all)()
    relay.close_relay_connections()


@pytest.fixture
def session_cookie() -> Callable[[Any], tuple[str, Client]]:
    """A logged-in session for a user: (the Cookie header, the test client holding it)."""

    def login(user: Any) -> tuple[str, Client]:
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}", client

    return login


def messages_of(received: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [message for message in received if message["type"] == kind]


def assert_in_sequence(received: list[dict[str, Any]], after: int) -> None:
    """The messages carry after+1, after+2, ... with no gap and no repeat."""
    assert [message["seq"] for message in received] == list(
        range(after + 1, after + 1 + len(received))
    )


# --- a redis-server of the test's own, to stop and start --------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not ready within {seconds} s")


class RedisServer:
    """A throwaway redis-server on a free port, without persistence: a restart forgets
    everything, group memberships included (the hard case)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="vx-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        executable = shutil.which("redis-server")
        assert executable, "redis-server is not installed"
        self.process = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.workdir],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: port_open(self.port), "redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
            self.process = None
        wait_for(lambda: not port_open(self.port), "redis-server to stop")

    def close(self) -> None:
        with suppress(Exception):
            self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


CORE_LAYER = "channels_redis.core.RedisChannelLayer"
PUBSUB_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"
REDIS_LAYERS = [pytest.param(CORE_LAYER, id="core"), pytest.param(PUBSUB_LAYER, id="pubsub")]


def redis_layer(url: str, backend: str = CORE_LAYER, **config: Any) -> dict[str, Any]:
    return {"default": {"BACKEND": backend, "CONFIG": {"hosts": [url], **config}}}


def child_env(**extra: str) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(extra)
    return env
