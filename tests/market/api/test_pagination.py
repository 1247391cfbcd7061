"""Every list of the API pages the same way (config.api.Pagination): no `limit` is too large
for it. The schema fuzzing once asked for a limit SQLite could not hold (a 500)."""

from __future__ import annotations

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
