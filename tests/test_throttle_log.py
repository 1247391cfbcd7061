"""The throttles' sliding-window log (`admit`, config/cache.py): the same answers from the Redis
cache (production) and the local-memory cache (embedded mode), and no slot taken twice when
requests race on Redis."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from config.throttling import UserRateThrottle

START = 1_800_000_000.0  # a fixed `now`: the log takes the caller's clock, as the throttle's


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def log_cache(request, settings) -> Iterator[object]:
    if request.param == "redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "config.cache.SharedPoolRedisCache",
                "LOCATION": settings.TEST_REDIS_URL,
                "KEY_PREFIX": "test-throttle-log",
            }
        }
    else:
        settings.CACHES = {"default": {"BACKEND": "config.cache.LocalMemoryCache"}}
    cache.clear()
    yield cache
    cache.clear()


class TenAMinute(UserRateThrottle):
    scope = "racing"

    def get_rate(self) -> str:
        return "10/minute"


def admit(log_cache, at: float, *, key: str = "k", limit: int = 2, window: int = 60):
    return log_cache.admit(key, now=START + at, window=window, limit=limit)


def test_a_window_admits_its_limit_then_says_when_the_oldest_leaves(log_cache):
    assert [admit(log_cache, at) for at in (0, 30)] == [None, None]

    assert admit(log_cache, 59) == pytest.approx(1.0)
    assert admit(log_cache, 60) is None  # the request at 0 has left the window
    assert admit(log_cache, 61) == pytest.approx(29.0)  # now the one at 30 must leave


def test_the_wait_is_exact_to_the_microsecond(log_cache):
    # Retry-After rounds the wait up: a time rounded in the log would turn 60 s into 61.
    assert admit(log_cache, 0.123457, limit=1) is None

    assert admit(log_cache, 30.5, limit=1) == pytest.approx(29.623457, abs=1e-6)


def test_refused_requests_are_not_counted(log_cache):
    assert admit(log_cache, 0, limit=1) is None
    for at in (10, 20, 59.5):
        assert admit(log_cache, at, limit=1) is not None

    assert admit(log_cache, 60, limit=1) is None


def test_several_requests_at_the_same_instant_each_take_a_slot(log_cache):
    assert [admit(log_cache, 0, limit=3) for _ in range(4)] == [None, None, None, 60.0]


def test_each_key_has_its_own_log(log_cache):
    assert admit(log_cache, 0, key="alice", limit=1) is None

    assert admit(log_cache, 0, key="bob", limit=1) is None
    assert admit(log_cache, 0, key="alice", limit=1) == 60.0


def test_a_lowered_rate_waits_until_enough_requests_have_left(log_cache):
    for at in (0, 10, 20, 30):
        assert admit(log_cache, at, limit=4) is None

    assert admit(log_cache, 40, limit=2) == pytest.approx(40.0)  # 0, 10 and 20 must leave: at 80
    assert admit(log_cache, 40, limit=0) == pytest.approx(60.0)  # none allowed: a whole window


def test_racing_requests_are_admitted_exactly_up_to_the_limit(log_cache):
    # DRF's own throttle reads the log, then writes it back: racing requests overwrite each
    # other's entries and more than the limit get through.
    request = SimpleNamespace(method="POST", user=SimpleNamespace(pk=7, is_authenticated=True))
    admitted: list[bool] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        admitted.extend(TenAMinute().allow_request(request, None) for _ in range(25))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(admitted), admitted.count(True)) == (200, 10)


def test_a_cache_without_the_log_is_a_clear_configuration_error(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    request = SimpleNamespace(method="POST", user=SimpleNamespace(pk=7, is_authenticated=True))

    with pytest.raises(ImproperlyConfigured, match="need a cache with `admit`"):
        TenAMinute().allow_request(request, None)
