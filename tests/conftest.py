"""Shared fixtures. Tests marked `postgres` run only on PostgreSQL, `redis` only with a server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = connection.vendor == "postgresql"
    has_redis = bool(getattr(settings, "TEST_REDIS_URL", ""))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL)"))
        if "redis" in item.keywords and not has_redis:
            item.add_marker(pytest.mark.skip(reason="needs a Redis server (TEST_REDIS_URL)"))


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Each test starts without what earlier tests left in this process: the cache (a board, a
    throttle count), the relay's and the consumers' memory (cursor rows it believes exist, a
    pending trailing relay or back-off, shared snapshots, vehicle pages' public state). A test that empties the tables
    (tests/market/test_replay.py) would otherwise leave the relay trusting rows that are gone."""
    from django.core.cache import cache

    from market import broadcast, consumers, outbox, page_sections, relay

    def forget() -> None:
        cache.clear()
        relay.cancel_trailing()
        relay._layer_down_until = 0.0
        relay._known_cursors.clear()
        broadcast._loop = None
        outbox._watch_state["session"] = None
        consumers._snapshots.clear()
        consumers._cursors.clear()
        consumers._cursor_reads.clear()
        page_sections.public_states.clear()

    forget()
    yield
    forget()
