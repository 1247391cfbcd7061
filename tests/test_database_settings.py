"""On PostgreSQL the connections bind parameters on the server and prepare what they run often;
DATABASE_PREPARE_THRESHOLD sets how often, and 0 prepares nothing (an old PgBouncer,
docs/scaling.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRINT_OPTIONS = (
    "import json; from django.conf import settings; "
    "options = settings.DATABASES['default']['OPTIONS']; "
    "print(json.dumps({key: options.get(key) for key in "
    "('server_side_binding', 'prepare_threshold')}))"
)


def production_database_options(**environment: str) -> dict[str, object]:
    env = {
        **{key: value for key, value in os.environ.items() if key != "DATABASE_PREPARE_THRESHOLD"},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        # No server is contacted: only the settings are read.
        "DATABASE_URL": "postgres://exchange@127.0.0.1:1/exchange",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "SECRET_KEY": "x" * 60,
        **environment,
    }
    result = subprocess.run(
        [sys.executable, "-c", PRINT_OPTIONS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    options: dict[str, object] = json.loads(result.stdout)
    return options


@pytest.mark.parametrize(
    ("environment", "threshold"),
    [
        ({}, 5),
        ({"DATABASE_PREPARE_THRESHOLD": "2"}, 2),
        ({"DATABASE_PREPARE_THRESHOLD": "0"}, None),
    ],
)
def test_postgresql_connections_bind_on_the_server_and_prepare_as_configured(
    environment, threshold
):
    assert production_database_options(**environment) == {
        "server_side_binding": True,
        "prepare_threshold": threshold,
    }
