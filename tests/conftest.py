"""Shared fixtures. Tests marked `postgres` run only on PostgreSQL, `redis` only with a server."""

from __future__ import annotations

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
def _fresh_cache() -> None:
    """Each test starts with an empty cache (the test settings' in-process one): a board or a
    throttle count cached by an earlier test must not leak into the next."""
    from django.core.cache import cache

    cache.clear()
