"""Browser tests: headless Debian Chromium (Playwright) against the real ASGI server.

pytest-django's `live_server` is WSGI-only (no WebSockets), so the market is served the way
`make run` serves it: `manage.py serve` (Daphne, HTTP and WebSocket, the in-memory channel
layer) in a subprocess on a free port. It gets a database of its own, migrated and seeded
(`tests/browser/seed.py`) before it starts: a SQLite file, or in the PostgreSQL run a new
database on the run's server, dropped at the end. The test process never shares a connection
or a transaction with it. The server's demo clock is pinned
inside continuous trading for the whole run (a trading day stretched over months), so orders
match whatever the real time is.

Every page a test opens is checked for console errors, and `shoot(page, name)` saves a 375 px
wide screenshot under test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A whole demo trading day lasts this long: the virtual clock barely moves during the run.
DEMO_DAY_SECONDS = 10_000_000
# Real seconds into the cycle: past its pre-open (10%), early in continuous trading.
DEMO_ELAPSED_SECONDS = 1_500_000
DEMO_START_DATE = "2026-11-18"  # a Wednesday
SERVER_START_SECONDS = 60
# Generous: CI machines are slow; every wait still returns as soon as its condition holds.
EXPECT_TIMEOUT_MS = 15_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MarketServer:
    url: str
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def _server_database(workdir: Path) -> tuple[str, Callable[[], None]]:
    """The server's database URL, and how to drop it: PostgreSQL when the run uses it."""
    run_url = os.environ.get("DATABASE_URL", "")
    if not run_url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{workdir / 'market.sqlite3'}", lambda: None
    import psycopg

    name = f"vx_browser_{uuid4().hex[:12]}"
    parts = urlsplit(run_url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


@pytest.fixture(scope="session")
def market_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarketServer]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    workdir = tmp_path_factory.mktemp("browser-server")
    epoch = datetime.now(UTC) - timedelta(seconds=DEMO_ELAPSED_SECONDS)
    database_url, drop_database = _server_database(workdir)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "TEST_REDIS_URL")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "TEST_MEDIA_ROOT": str(workdir / "media"),
            "MARKET_DEMO_MODE": "true",
            "MARKET_DEMO_DAY_SECONDS": str(DEMO_DAY_SECONDS),
            "MARKET_DEMO_EPOCH": epoch.isoformat(),
            "MARKET_DEMO_START_DATE": DEMO_START_DATE,
            "MARKET_SIMULATOR_ENABLED": "false",
        }
    )
    python = sys.executable
    try:
        subprocess.run(
            [python, "-m", "tests.browser.seed"], cwd=ROOT, env=env, check=True, timeout=300
        )
        yield from _serve(workdir, env)
    finally:
        drop_database()


def _serve(workdir: Path, env: dict[str, str], *, clock: bool = False) -> Iterator[MarketServer]:
    """`manage.py serve`; with `clock`, its embedded market clock (and simulator) too."""
    port = _free_port()
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                *("manage.py", "serve", f"127.0.0.1:{port}"),
                "--insecure",
                "--skip-checks",
                *(() if clock else ("--no-clock",)),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = MarketServer(url=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        _wait_until_serving(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_until_serving(server: MarketServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling the server's start, not waiting for the page
    raise RuntimeError(f"the server did not start within {SERVER_START_SECONDS} s")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session", autouse=True)
def _screenshots_folder() -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


@dataclass
class Console:
    """Console errors and uncaught exceptions of every page a test opened."""

    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on(
            "console", lambda message: message.type == "error" and self.errors.append(message.text)
        )
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def unexpected(self) -> list[str]:
        return [error for error in self.errors if not any(part in error for part in self.expected)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def new_page(
    browser: Browser, market_server: MarketServer, console: Console
) -> Iterator[Callable[..., Page]]:
    """new_page(width=1280) opens a page in a fresh browser context (its own cookies)."""
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    contexts = []

    def make(width: int = 1280, height: int = 900) -> Page:
        context = browser.new_context(
            base_url=market_server.url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        console.watch(page)
        return page

    yield make
    for context in contexts:
        context.close()
    assert console.unexpected() == [], f"console errors:\n{market_server.log_tail()}"


@pytest.fixture
def shoot() -> Callable[[Page, str], Path]:
    """A full-page screenshot 375 px wide; fails when the page scrolls sideways."""

    def take(page: Page, name: str) -> Path:
        page.set_viewport_size({"width": 375, "height": 812})
        width = page.evaluate("document.documentElement.scrollWidth")
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert width <= 375, f"{name} scrolls sideways at 375 px: {width} px wide"
        return path

    return take
