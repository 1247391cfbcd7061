"""Every list of the API pages the same way (config.pagination.Pagination): no `limit` is too
large for it. The schema fuzzing once asked for a limit SQLite could not hold (a 500)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from market.models import Notification
from market.services.orders import order_place

pytestmark = pytest.mark.django_db

HUGE = "506800503701646769686272125435904"


@pytest.mark.parametrize(
    "path", ["/api/v1/notifications/", "/api/v1/orders/", "/api/v1/account/ledger/"]
)
def test_a_huge_limit_is_the_largest_page(path, continuous_instrument, make_trader, client_for):
    instrument = continuous_instrument()
    trader = make_trader(cash="1000.00")  # its deposit is in the ledger
    order_place(user_id=trader.pk, symbol=instrument.symbol, side="buy", quantity=1, price="90")
    Notification.objects.create(user=trader, kind="test", title="A notification")
    client = client_for(trader)

    page = client.get(path, {"limit": HUGE})

    assert page.status_code == 200, page.content
    assert page.json()["count"] >= 1
    assert len(page.json()["results"]) == min(page.json()["count"], 200)


def test_drf_loads_the_paginator_first_thing_in_a_fresh_process():
    """DRF's system checks read DEFAULT_PAGINATION_CLASS before anything else of ours is
    imported (`manage.py migrate`, the first step of `make run`). A paginator in a module that
    imports DRF's views made that a circular import."""
    code = (
        "import django; django.setup(); "
        "from rest_framework.settings import api_settings; "
        "print(api_settings.DEFAULT_PAGINATION_CLASS.__name__)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Pagination"
