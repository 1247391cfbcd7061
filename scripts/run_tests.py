#!/usr/bin/env python3
"""`make test`: lint, then the whole suite on SQLite and again on PostgreSQL, with real Redis.

It installs the Debian packages it needs when they are missing (postgresql, redis-server,
chromium),
starts a throwaway PostgreSQL cluster and a redis-server on free ports under a temporary
folder, and stops them at the end, also when a step fails. Works as root (the cluster then
runs as the `postgres` user, since PostgreSQL refuses root) and as an ordinary user.

Extra arguments are passed to both pytest runs, e.g. `make test ARGS="-k auction -x"`.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
IS_ROOT = os.geteuid() == 0


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


def apt_install(packages: list[str]) -> None:
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
                f"`sudo apt-get install -y {' '.join(packages)}` and run `make test` again."
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


def ensure_packages() -> None:
    missing = []
    if postgres_bin_dir() is None:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    # The browser tests drive Debian's Chromium (a browser download would fail here).
    if shutil.which("chromium") is None:
        missing += ["chromium", "fonts-dejavu-core"]
    if missing:
        apt_install(missing)


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


@contextmanager
def postgres_cluster(workdir: Path) -> Iterator[str]:
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None
    data = workdir / "pgdata"
    port = free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"] if IS_ROOT else []
    if IS_ROOT:
        shutil.chown(workdir, user="postgres")
    subprocess.run(
        [
            *as_postgres,
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
    # A throwaway cluster for tests: durability off for speed (benchmarks use their own).
    options = (
        f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [
            *as_postgres,
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
        yield f"postgres://postgres@127.0.0.1:{port}/vehicle_exchange"
    finally:
        subprocess.run(
            [
                *as_postgres,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "immediate",
                "-w",
                "stop",
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
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def run_step(
    name: str, command: list[str], env: dict[str, str], results: list[tuple[str, int]]
) -> None:
    log(name)
    code = subprocess.run(command, cwd=ROOT, env=env).returncode
    results.append((name, code))


def main() -> int:
    extra = sys.argv[1:]
    ensure_packages()
    results: list[tuple[str, int]] = []
    base_env = {
        key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")
    }
    base_env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    base_env["PYTHONPATH"] = str(ROOT)
    python = str(VENV_BIN / "python")

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vx-test-")))
        os.chmod(workdir, 0o755)
        log("starting PostgreSQL and Redis")
        redis_url = stack.enter_context(redis_server(workdir))
        database_url = stack.enter_context(postgres_cluster(workdir))
        base_env["TEST_REDIS_URL"] = redis_url
        base_env["TEST_MEDIA_ROOT"] = str(workdir / "media")
        print(f"PostgreSQL: {database_url}\nRedis: {redis_url}", flush=True)

        run_step("lint: ruff", [str(VENV_BIN / "ruff"), "check", "."], base_env, results)
        run_step("lint: mypy", [str(VENV_BIN / "mypy"), "."], base_env, results)
        run_step(
            "migrations are up to date",
            [python, "manage.py", "makemigrations", "--check", "--dry-run"],
            base_env,
            results,
        )
        pytest = [python, "-m", "pytest", *extra]
        run_step("tests on SQLite", pytest, base_env, results)
        run_step("tests on PostgreSQL", pytest, {**base_env, "DATABASE_URL": database_url}, results)

    log("summary")
    for name, code in results:
        print(f"  {'ok  ' if code == 0 else 'FAIL'}  {name}" + (f" (exit {code})" if code else ""))
    failed = [name for name, code in results if code != 0]
    verdict = f"failed: {', '.join(failed)}" if failed else "every step passed"
    print(f"make test: {verdict}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
