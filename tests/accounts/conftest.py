from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """The auth endpoints are throttled per address, counting in the cache: start each at zero."""
    cache.clear()
    yield
    cache.clear()
