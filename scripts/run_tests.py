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

import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from services import (  # scripts/ is not a package
    ROOT,
    VENV_BIN,
    ensure_packages,
    log,
    postgres_cluster,
    redis_server,
)


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
        # Two workers for two cores. The browser tests serve their own database, so they run
        # once, in the PostgreSQL pass.
        pytest = [python, "-m", "pytest", "-n", "2", "--durations=10", *extra]
        run_step("tests on SQLite", [*pytest, "-m", "not browser"], base_env, results)
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
