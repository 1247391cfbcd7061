"""Listing, the order page, cancels, My orders, the portfolio, the ledger, the leaderboard and
the account page's cash section."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from market.models import Instrument, Order, OrderStatus
from tests.factories import VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("market:orders", []),
        ("market:portfolio", []),
        ("market:ledger", []),
        ("market:order", ["CAR1"]),
        ("market:holdings", ["CAR1"]),
        ("market:listing", [1]),
    ],
)
def test_private_pages_send_visitors_to_log_in(client, name, args):
    url = reverse(name, args=args)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={url}"


# --- listing ------------------------------------------------------------------------------------


def test_owner_lists_a_vehicle_and_lands_on_its_trading_section(signed_in, travel):
    travel("09:00")
    vehicle = VehicleFactory()
    form = {"symbol": "mycar", "total_shares": "500", "listing_price": "20.00"}

    response = signed_in(vehicle.owner).post(reverse("market:listing", args=[vehicle.pk]), form)

    instrument = Instrument.objects.get(vehicle=vehicle)
    assert (instrument.symbol, instrument.total_shares) == ("MYCAR", 500)
    assert instrument.listing_price == Decimal("20.00")
    assert response.url == vehicle.get_absolute_url() + "#trading"


def test_listing_errors_show_next_to_their_field(signed_in, continuous_instrument):
    taken = continuous_instrument().symbol
    vehicle = VehicleFactory()
    form = {"symbol": taken, "total_shares": "500", "listing_price": "20.00"}

    response = signed_in(vehicle.owner).post(reverse("market:listing", args=[vehicle.pk]), form)

    assert response.status_code == 200
    assert response.context["form"].errors == {"symbol": [f"The symbol {taken} is taken."]}
    assert not Instrument.objects.filter(vehicle=vehicle).exists()


def test_only_the_owner_can_list(signed_in, make_trader):
    vehicle = VehicleFactory()

    response = signed_in(make_trader()).get(reverse("market:listing", args=[vehicle.pk]))

    assert response.status_code == 403


# --- the order page (no JavaScript, and quick-sell's confirmation) ------------------------------


def test_order_page_places_an_order_and_goes_to_my_orders(
    signed_in, continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    trader = make_trader()
    form = {
        "side": "buy",
        "type": "limit",
        "quantity": "3",
        "price": "95.00",
        "time_in_force": "day",
    }

    response = signed_in(trader).post(reverse("market:order", args=[instrument.symbol]), form)

    order = Order.objects.get(user=trader)
    assert (order.side, order.quantity, order.price) == ("buy", 3, Decimal("95.00"))
    assert response.url == reverse("market:orders")


def test_order_page_shows_the_service_error_next_to_its_field(
    signed_in, continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    poor = make_trader(cash="10.00")
    form = {"side": "buy", "type": "limit", "quantity": "1", "price": "95.00"}
    form["time_in_force"] = "day"

    response = signed_in(poor).post(reverse("market:order", args=[instrument.symbol]), form)

    assert response.status_code == 200
    errors = response.context["order_form"].errors
    assert list(errors) == ["quantity"]
    assert errors["quantity"][0].startswith("Insufficient cash: the order needs $95.95")
    assert 'id="order-quantity" min="1"' in response.content.decode()
    assert not Order.objects.exists()


def test_a_limit_order_without_price_is_refused_by_the_form(
    signed_in, continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    form = {"side": "sell", "type": "limit", "quantity": "1", "time_in_force": "day"}

    response = signed_in(make_trader()).post(
        reverse("market:order", args=[instrument.symbol]), form
    )

    assert response.context["order_form"].errors == {"price": ["A limit order needs a price."]}


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", "\uff11\uff10"), ("price", "\uff19\uff19.00"), ("quantity", "\u0661\u0660")],
)
def test_digits_of_other_scripts_are_refused_by_the_form(
    signed_in, continuous_instrument, make_trader, field, value
):
    """int() and Decimal() read fullwidth and Arabic-Indic digits; the ticket does not."""
    instrument = continuous_instrument()
    form = {"side": "buy", "type": "limit", "quantity": "1", "price": "99.00", field: value}
    form["time_in_force"] = "day"

    response = signed_in(make_trader()).post(
        reverse("market:order", args=[instrument.symbol]), form
    )

    assert response.context["order_form"].errors == {field: ["Use the digits 0 to 9."]}
    assert not Order.objects.exists()


def test_quick_sell_link_opens_a_prefilled_confirmation(signed_in, continuous_instrument):
    instrument = continuous_instrument()
    url = reverse("market:order", args=[instrument.symbol])

    response = signed_in(instrument.vehicle.owner).get(
        url, {"side": "sell", "quantity": "10", "price": "99.00", "confirm": "1"}
    )

    html = response.content.decode()
    assert "Confirm your order" in html
    assert 'value="sell" id="order-side_1" checked' in html
    assert (
        'name="quantity" id="order-quantity" min="1" step="1" inputmode="numeric" required value="10"'
        in html
    )
    assert "Nothing is sent until you do" in html


# --- cancels and My orders ----------------------------------------------------------------------


def test_my_orders_lists_open_orders_with_cancel_and_the_history(
    signed_in, continuous_instrument, make_trader, place
):
    instrument = continuous_instrument()
    trader = make_trader()
    resting = place(trader, instrument, "buy", 2, "90.00")
    done = place(trader, instrument, "buy", 1, "91.00")
    signed_in(trader).post(reverse("market:order_cancel", args=[done.pk]))

    response = signed_in(trader).get(reverse("market:orders"))

    assert [order.pk for order in response.context["open_orders"]] == [resting.pk]
    assert [order.pk for order in response.context["history"]] == [done.pk]
    html = response.content.decode()
    assert reverse("market:order_cancel", args=[resting.pk]) in html
    assert reverse("market:order_cancel", args=[done.pk]) not in html


def test_cancel_releases_the_order_and_says_so(
    signed_in, continuous_instrument, make_trader, place
):
    instrument = continuous_instrument()
    trader = make_trader()
    order = place(trader, instrument, "buy", 2, "90.00")

    response = signed_in(trader).post(reverse("market:order_cancel", args=[order.pk]), follow=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert f"Order #{order.pk} is cancelled." in response.content.decode()


def test_cancelling_another_users_order_changes_nothing(
    signed_in, continuous_instrument, make_trader, place
):
    instrument = continuous_instrument()
    order = place(make_trader(), instrument, "buy", 2, "90.00")

    response = signed_in(make_trader()).post(
        reverse("market:order_cancel", args=[order.pk]), follow=True
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN
    assert "No such order." in response.content.decode()


def test_cancel_goes_back_to_a_safe_next_page_only(
    signed_in, continuous_instrument, make_trader, place
):
    instrument = continuous_instrument()
    trader = make_trader()
    first = place(trader, instrument, "buy", 1, "90.00")
    second = place(trader, instrument, "buy", 1, "89.00")
    client = signed_in(trader)
    cancel = "market:order_cancel"

    inside = client.post(reverse(cancel, args=[first.pk]), {"next": "/portfolio/"})
    outside = client.post(reverse(cancel, args=[second.pk]), {"next": "https://evil.example/"})

    assert inside.url == "/portfolio/"
    assert outside.url == reverse("market:orders")


# --- portfolio, ledger, leaderboard, account ----------------------------------------------------


def test_portfolio_shows_positions_with_pnl_and_a_quick_sell(
    signed_in, continuous_instrument, make_trader, place
):
    instrument = continuous_instrument()
    owner, buyer = instrument.vehicle.owner, make_trader()
    place(owner, instrument, "sell", 10, "110.00")
    place(buyer, instrument, "buy", 10, "110.00")
    place(buyer, instrument, "buy", 1, "105.00")

    response = signed_in(owner).get(reverse("market:portfolio"))

    html = response.content.decode()
    [row] = response.context["positions"]
    assert (row["symbol"], row["quantity"]) == (instrument.symbol, 990)
    assert row["unrealized_pnl"] == Decimal("9900.00")  # marked at 110 against a cost of 100
    assert "▲" in html
    assert "+$9,900.00" in html
    assert "Quick sell at 105.00" in html


def test_ledger_lists_the_users_cash_movements(signed_in, make_trader):
    trader = make_trader(cash="250.00")

    response = signed_in(trader).get(reverse("market:ledger"))

    assert "+$250.00" in response.content.decode()


def test_account_page_shows_cash_and_equity(signed_in, make_trader):
    trader = make_trader(cash="1234.50")

    html = signed_in(trader).get(reverse("accounts:me")).content.decode()

    assert "Cash and equity" in html
    assert "$1,234.50" in html
    assert reverse("market:ledger") in html


def test_leaderboard_ranks_the_days_traders(
    client, signed_in, continuous_instrument, make_trader, place
):
    instrument = continuous_instrument()
    owner, buyer = instrument.vehicle.owner, make_trader(name="bold")
    place(owner, instrument, "sell", 10, "120.00")
    place(buyer, instrument, "buy", 10, "120.00")

    response = signed_in(buyer).get(reverse("market:leaderboard"))

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["board"].me is not None
    assert "Your rank: <strong>#" in html
    assert "bold" in html


def test_leaderboard_of_a_day_without_a_board_explains_itself(client, travel):
    travel("10:00")

    response = client.get(reverse("market:leaderboard"), {"date": "2026-10-01"})

    assert response.status_code == 200
    assert "There is no leaderboard for 2026-10-01" in response.content.decode()
