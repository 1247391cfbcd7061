"""Throwaway services for `make test` and `make bench`: a PostgreSQL cluster and a redis-server
on free loopback ports under a temporary folder, and helpers to start and stop processes.

Works as root (the cluster then runs as the `postgres` user through `runuser`, since PostgreSQL
refuses root) and as an ordinary user. Installs missing Debian packages as root or through
passwordless sudo.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
IS_ROOT = os.geteuid() == 0
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if IS_ROOT else []

# A throwaway cluster for tests: durability off for speed.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
# Durability as in production (PostgreSQL's defaults), with memory sized for a small server.
DURABLE_SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_buffers": "512MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    # Statement counts and times, for the benchmark's report (a few percent of overhead).
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
}


def log(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    if candidates:
        return Path(candidates[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


def apt_install(packages: list[str], *, rerun: str = "make test") -> None:
    """Install Debian packages, as root or through passwordless sudo."""
    prefix: list[str] = []
    if not IS_ROOT:
        if (
            shutil.which("sudo")
            and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
        ):
            prefix = ["sudo", "-n"]
        else:
            sys.exit(
                f"Missing Debian packages {packages}: install them once with "
                f"`sudo apt-get install -y {' '.join(packages)}` and run `{rerun}` again."
            )
    log(f"installing Debian packages: {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def ensure_packages(*, browser: bool = True, rerun: str = "make test") -> None:
    """PostgreSQL (with pgbench) and redis-server; Debian's Chromium for the browser tests."""
    missing = []
    if postgres_bin_dir() is None:
        missing.append("postgresql")
    elif not (postgres_bin_dir() / "pgbench").exists() and shutil.which("pgbench") is None:  # type: ignore[operator]
        missing.append("postgresql-contrib")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    # The browser tests drive Debian's Chromium (a browser download would fail here).
    if browser and shutil.which("chromium") is None:
        missing += ["chromium", "fonts-dejavu-core"]
    if missing:
        apt_install(missing, rerun=rerun)


def wait_until(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {seconds} s")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def postgres_tool(name: str) -> str:
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None
    tool = bin_dir / name
    return str(tool) if tool.exists() else (shutil.which(name) or name)


@contextmanager
def postgres_cluster(
    workdir: Path,
    *,
    settings: Mapping[str, str] | None = None,
    max_connections: int = 200,
    database: str = "vehicle_exchange",
    create_database: bool = False,
) -> Iterator[str]:
    """A cluster of its own on a free port; yields its URL (`database` on it, created when
    `create_database`, else left to the caller, e.g. pytest-django's test database).
    `settings` default to FAST_SETTINGS (no durability)."""
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None
    data = workdir / "pgdata"
    port = free_port()
    if IS_ROOT:
        shutil.chown(workdir, user="postgres")
    subprocess.run(
        [
            *AS_POSTGRES,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    merged = {**(FAST_SETTINGS if settings is None else settings)}
    merged["max_connections"] = str(max_connections)
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 " + " ".join(
        f"-c {key}={value}" for key, value in merged.items()
    )
    subprocess.run(
        [
            *AS_POSTGRES,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(workdir / "postgres.log"),
            "-o",
            options,
            "-w",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        if create_database:
            subprocess.run(
                [
                    *AS_POSTGRES,
                    *(postgres_tool("createdb"), "-h", "127.0.0.1", "-p", str(port)),
                    *("-U", "postgres", database),
                ],
                check=True,
            )
        yield f"postgres://postgres@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run(
            [
                *AS_POSTGRES,
                *(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_open(port), "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen, *, timeout: float = 10) -> None:
    """SIGTERM the process (and its process group when it leads one), then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            if os.getpgid(process.pid) == process.pid:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        except ProcessLookupError:
            pass
        process.wait(timeout=timeout)


@contextmanager
def background(
    command: list[str], *, env: Mapping[str, str], log_path: Path, cwd: Path = ROOT
) -> Iterator[subprocess.Popen]:
    """A long-running process in its own process group, output to `log_path`; stopped (group
    and all) on exit."""
    handle: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop_process(process)
        handle.close()
