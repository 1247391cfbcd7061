"""The caller's own account, ledger and portfolio (MARKET_RULES 2 and 7)."""

import pytest

from market.services.ledger import cash_adjust
from market.services.orders import order_place

pytestmark = pytest.mark.django_db


def test_account_of_a_new_trader_is_all_available_cash(make_trader, client_for):
    response = client_for(make_trader(cash="2500.00")).get("/api/v1/account/")

    assert response.json() == {
        "cash_balance": "2500.00",
        "cash_reserved": "0.00",
        "cash_available": "2500.00",
        "equity": "2500.00",
    }


def test_account_without_a_cash_account_reads_as_zero(client_for, django_user_model):
    user = django_user_model.objects.create_user(username="nocash", password="x-Pass-1234")

    response = client_for(user).get("/api/v1/account/")

    assert response.json()["cash_balance"] == "0.00"


def test_ledger_lists_own_entries_newest_first_paginated(make_trader, client_for):
    trader = make_trader(cash="1000.00")
    make_trader(cash="5000.00")  # someone else's entries stay hidden
    cash_adjust(user_id=trader.pk, amount="-25.00", reason="Fee refund reversed")

    body = client_for(trader).get("/api/v1/account/ledger/", {"limit": 1}).json()

    assert body["count"] == 2
    [entry] = body["results"]
    assert {key: entry[key] for key in ("kind", "amount", "description", "trade_id")} == {
        "kind": "adjustment",
        "amount": "-25.00",
        "description": "Fee refund reversed",
        "trade_id": None,
    }
    assert body["next"] is not None


def test_portfolio_marks_positions_at_the_last_trade_with_pnl(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    owner, buyer = instrument.vehicle.owner, make_trader(cash="10000.00")
    order_place(
        user_id=owner.pk, symbol=instrument.symbol, side="sell", quantity=50, price="107.00"
    )
    order_place(user_id=buyer.pk, symbol=instrument.symbol, side="buy", quantity=50, price="107.00")
    order_place(
        user_id=owner.pk, symbol=instrument.symbol, side="sell", quantity=10, price="120.00"
    )

    buyer_view = client_for(buyer).get("/api/v1/portfolio/").json()
    owner_view = client_for(owner).get("/api/v1/portfolio/").json()

    assert buyer_view["positions"] == [
        {
            "symbol": instrument.symbol,
            "quantity": 50,
            "quantity_available": 50,
            "average_cost": "108.07",  # (5,350 + 53.50) / 50
            "mark_price": "107.00",
            "market_value": "5350.00",
            "cost_basis": "5403.50",
            "unrealized_pnl": "-53.50",
            "unrealized_pnl_percent": "-0.99",
            "realized_pnl": "0.00",
        }
    ]
    assert buyer_view["totals"] == {
        "market_value": "5350.00",
        "unrealized_pnl": "-53.50",
        "realized_pnl": "0.00",
        "cash": "4596.50",
        "equity": "9946.50",
    }
    [position] = owner_view["positions"]
    assert (position["quantity"], position["quantity_available"]) == (950, 940)
    assert position["realized_pnl"] == "296.50"  # 5,350 - 53.50 - 50 x 100
    assert owner_view["totals"]["equity"] == "106946.50"


@pytest.mark.parametrize(
    "query", [{"limit": 10**25}, {"offset": 10**25}, {"limit": -1}, {"offset": "x"}]
)
@pytest.mark.parametrize("path", ["/api/v1/account/ledger/", "/api/v1/orders/"])
def test_out_of_range_pagination_is_answered_not_crashed(make_trader, client_for, path, query):
    response = client_for(make_trader()).get(path, query)

    assert response.status_code == 200
