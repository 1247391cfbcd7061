"""Order entry is throttled per user (config/throttling.py, market/api/throttles.py).

The test settings make the rates unreachable; these tests lower them. The clock stands still
(travel), so Retry-After is exact.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.cache import cache, caches

from market.models import AuditEvent, CashAccount, Order, OrderStatus

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
ROOT = Path(__file__).resolve().parents[3]


def rates(settings, **scopes: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scopes},
    }


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


def place(client, instrument, price: str):
    payload = {"symbol": instrument.symbol, "side": "buy", "quantity": 1, "price": price}
    return client.post(ORDERS, payload, format="json")


def assert_throttled(response, retry_after: str) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == retry_after
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert (body["code"], body["fields"]) == ("throttled", {})
    assert f"{retry_after} seconds" in body["detail"]


def test_placing_past_the_rate_is_429_with_retry_after_and_stores_nothing(
    settings, continuous_instrument, make_trader, client_for, travel
):
    rates(settings, orders="2/minute")
    instrument = continuous_instrument()
    buyer = make_trader(cash="1000.00")
    client = client_for(buyer)
    assert [place(client, instrument, price).status_code for price in ("90.00", "91.00")] == [
        201,
        201,
    ]
    events_before = AuditEvent.objects.count()
    reserved_before = CashAccount.objects.get(user=buyer).reserved_amount

    response = place(client, instrument, "92.00")

    assert_throttled(response, "60")
    assert Order.objects.filter(user=buyer).count() == 2
    assert AuditEvent.objects.count() == events_before
    assert CashAccount.objects.get(user=buyer).reserved_amount == reserved_before


def test_the_order_rate_counts_per_user_and_not_reads(
    settings, continuous_instrument, make_trader, client_for
):
    rates(settings, orders="1/minute")
    instrument = continuous_instrument()
    first = client_for(make_trader(cash="1000.00"))
    second = client_for(make_trader(cash="1000.00"))
    assert place(first, instrument, "90.00").status_code == 201

    assert place(first, instrument, "90.00").status_code == 429
    assert place(second, instrument, "90.00").status_code == 201
    assert first.get(ORDERS).status_code == 200


def test_placing_is_allowed_again_once_retry_after_has_passed(
    settings, continuous_instrument, make_trader, client_for, travel
):
    rates(settings, orders="1/minute")
    instrument = continuous_instrument()  # leaves the clock at 10:00
    client = client_for(make_trader(cash="1000.00"))
    assert place(client, instrument, "90.00").status_code == 201
    assert place(client, instrument, "90.00").status_code == 429

    travel("10:01")

    assert place(client, instrument, "90.00").status_code == 201


def test_cancelling_past_the_rate_is_429_and_the_order_stays_open(
    settings, continuous_instrument, make_trader, client_for
):
    rates(settings, cancels="1/minute")
    instrument = continuous_instrument()
    buyer = make_trader(cash="1000.00")
    client = client_for(buyer)
    first, second = (place(client, instrument, price).json()["id"] for price in ("90.00", "91.00"))
    assert client.delete(f"{ORDERS}{first}/").status_code == 200
    reserved_before = CashAccount.objects.get(user=buyer).reserved_amount

    response = client.delete(f"{ORDERS}{second}/")

    assert_throttled(response, "60")
    assert Order.objects.get(pk=second).status == OrderStatus.OPEN
    assert CashAccount.objects.get(user=buyer).reserved_amount == reserved_before
    assert client.get(f"{ORDERS}{second}/").status_code == 200


@pytest.fixture
def redis_cache(settings):
    """The production cache, on the test's Redis."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.SharedPoolRedisCache",
            "LOCATION": settings.TEST_REDIS_URL,
            "KEY_PREFIX": "test-throttling",
        }
    }
    cache.clear()
    yield cache
    cache.clear()


@pytest.mark.redis
def test_the_throttle_counts_in_redis_when_the_cache_is_redis(
    settings, redis_cache, continuous_instrument, make_trader, client_for
):
    rates(settings, orders="1/minute")
    instrument = continuous_instrument()
    buyer = make_trader(cash="1000.00")
    client = client_for(buyer)
    assert place(client, instrument, "90.00").status_code == 201

    response = place(client, instrument, "90.00")

    assert_throttled(response, "60")
    log = redis_cache.make_and_validate_key(f"throttle_log_orders_{buyer.pk}")
    assert redis_cache._cache.get_client(write=True).zcard(log) == 1  # the admitted order only


@pytest.mark.redis
def test_a_count_left_by_drf_s_own_throttle_does_not_get_in_the_way(
    settings, redis_cache, continuous_instrument, make_trader, client_for, caplog
):
    rates(settings, orders="1/minute")
    instrument = continuous_instrument()
    buyer = make_trader(cash="1000.00")
    client = client_for(buyer)
    redis_cache.set(f"throttle_orders_{buyer.pk}", [1.0, 2.0], 60)  # DRF's list, before an upgrade

    with caplog.at_level(logging.WARNING, logger="config.throttling"):
        statuses = [place(client, instrument, "90.00").status_code for _ in range(2)]

    assert statuses == [201, 429]
    assert "cache is unavailable" not in caplog.text


def test_production_counts_in_redis_at_the_default_rates():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        # Nothing is contacted: only the settings are read.
        "DATABASE_URL": "postgres://exchange@127.0.0.1:1/exchange",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "SECRET_KEY": "k" * 60,
    }
    for name in ("THROTTLE_ORDERS_RATE", "THROTTLE_CANCELS_RATE", "THROTTLE_AUTH_RATE"):
        env.pop(name, None)
    script = (
        "from django.conf import settings; "
        "print(settings.CACHES['default']['BACKEND']); "
        "print(sorted(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'].items()))"
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "config.cache.SharedPoolRedisCache",
        "[('auth', '30/minute'), ('cancels', '600/minute'), ('orders', '600/minute')]",
    ]


def test_every_thread_s_redis_cache_shares_one_connection_pool(settings):
    # Django builds a cache object per thread, and under ASGI each request's sync code runs in a
    # thread of its own: a pool per cache object was a new Redis connection per request.
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.SharedPoolRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing is contacted: pools connect lazily
            "OPTIONS": {"socket_timeout": 1.0},
        }
    }
    pools = []

    def pool_in_a_new_thread() -> None:
        pools.append(caches["default"]._cache._get_connection_pool(write=True))

    threads = [threading.Thread(target=pool_in_a_new_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(pools) == 3
    assert pools[0] is pools[1] is pools[2]
