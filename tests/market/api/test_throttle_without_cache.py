"""A throttle whose cache does not answer (Redis down) lets orders through: trading does not
depend on Redis (config/throttling.py; the fault suite's Redis case, docs/hardening.md)."""

from __future__ import annotations

import logging

import pytest

from market.models import Order
from tests.market.realtime.conftest import free_port

pytestmark = pytest.mark.django_db


def test_orders_and_cancels_go_through_when_the_throttles_cache_is_down(
    settings, continuous_instrument, make_trader, client_for, caplog
):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.SharedPoolRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }
    instrument = continuous_instrument()
    client = client_for(make_trader(cash="1000.00"))
    payload = {"symbol": instrument.symbol, "side": "buy", "quantity": 1, "price": "90.00"}

    with caplog.at_level(logging.WARNING, logger="config.throttling"):
        placed = client.post("/api/v1/orders/", payload, format="json")
        cancelled = client.delete(f"/api/v1/orders/{placed.json()['id']}/")

    assert (placed.status_code, cancelled.status_code) == (201, 200)
    assert Order.objects.get().status == "cancelled"
    assert caplog.text.count("the cache is unavailable; not throttling") == 2
