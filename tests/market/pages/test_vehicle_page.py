"""The vehicle page's market section (VEHICLES_DETAIL_SECTIONS): trading tabs, or Start trading."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from market import page_sections, relay
from market.broadcast import instrument_stream
from market.models import Instrument
from tests.factories import VehicleFactory

pytestmark = pytest.mark.django_db

# The vehicle (4: with owner, photos, specs, timeline), the instrument (1), the stream's
# sequence number (1), and when the market changed since the last visitor the ticker (1), the
# book (1), the bars (1) and the trades (1); signed in also the session and user (2), the
# account (2), the portfolio (2) and the open orders with their fills (3).
VEHICLE_PAGE_QUERIES_ANONYMOUS = 10
VEHICLE_PAGE_QUERIES_ANONYMOUS_REUSED = 6
VEHICLE_PAGE_QUERIES_SIGNED_IN = 19
VEHICLE_PAGE_QUERIES_SIGNED_IN_REUSED = 15


def config_of(html: str) -> dict:
    match = re.search(r'<script id="trading-config" type="application/json">(.*?)</script>', html)
    assert match, "the trading section embeds its configuration"
    return json.loads(match.group(1))


def test_listed_vehicle_shows_ticker_tabs_book_and_order_form(
    signed_in, continuous_instrument, make_trader, place
):
    instrument = continuous_instrument()
    trader = make_trader()
    place(trader, instrument, "buy", 4, "97.50")
    place(instrument.vehicle.owner, instrument, "sell", 6, "102.25")

    response = signed_in(trader).get(instrument.vehicle.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert f'Trading <span class="symbol">{instrument.symbol}</span>' in html
    for tab in ("Ticker", "Order book", "Portfolio", "Leaderboard"):
        assert re.search(rf'role="tab"[^>]*>{tab}</button>', html)
    assert 'data-price="97.50" data-side="sell"' in html  # a bid: choosing it sells
    assert 'data-price="102.25" data-side="buy"' in html  # an ask: choosing it buys
    assert 'data-field="spread" data-format="price">4.75<' in html
    assert 'name="quantity"' in html
    assert 'name="price"' in html
    assert 'name="time_in_force"' in html
    assert 'data-cash-available="9606.10"' in html  # 10,000 less 4 x 97.50 and its 1% fee


def test_section_config_names_the_streams_and_the_initial_state(signed_in, continuous_instrument):
    instrument = continuous_instrument()

    html = signed_in(instrument.vehicle.owner).get(instrument.vehicle.get_absolute_url())
    config = config_of(html.content.decode())

    assert config["streams"] == {
        "instrument": f"/ws/instruments/{instrument.symbol}/",
        "me": "/ws/me/",
    }
    assert config["ordersApiUrl"] == "/api/v1/orders/"
    assert config["fees"]["buyer"] == "0.010"
    assert config["initial"]["ticker"]["symbol"] == instrument.symbol
    assert config["initial"]["book"] == {"bids": [], "asks": []}


def test_anonymous_visitor_is_asked_to_log_in_and_has_no_private_stream(
    client, continuous_instrument
):
    instrument = continuous_instrument()
    url = instrument.vehicle.get_absolute_url()

    html = client.get(url).content.decode()

    assert "Log in to trade" in html
    assert config_of(html)["streams"]["me"] is None
    assert 'name="quantity"' not in html


def test_holdings_tab_offers_a_quick_sell_at_the_best_bid(
    signed_in, continuous_instrument, make_trader, place
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    place(make_trader(), instrument, "buy", 10, "99.00")

    html = signed_in(owner).get(instrument.vehicle.get_absolute_url()).content.decode()

    assert "Quick sell 1,000 at 99.00" in html
    assert (
        f"/market/{instrument.symbol}/order/?side=sell&amp;type=limit&amp;quantity=1000"
        "&amp;price=99.00&amp;confirm=1" in html
    )


def test_owner_of_an_unlisted_vehicle_gets_start_trading_with_a_suggested_symbol(signed_in):
    vehicle = VehicleFactory(make="Porsche", model="911", year=1989)

    html = signed_in(vehicle.owner).get(vehicle.get_absolute_url()).content.decode()

    assert "Start trading" in html
    assert 'value="PORS91189"' in html
    assert reverse("market:listing", args=[vehicle.pk]) in html


def test_others_see_that_an_unlisted_vehicle_does_not_trade(client):
    vehicle = VehicleFactory()

    html = client.get(vehicle.get_absolute_url()).content.decode()

    assert "is not listed on the market" in html
    assert "Start trading" not in html


def test_instrument_url_leads_to_its_vehicle_page(client, continuous_instrument):
    instrument = continuous_instrument()

    response = client.get(reverse("market:instrument", args=[instrument.symbol.lower()]))

    assert response.status_code == 302
    assert response.url == instrument.vehicle.get_absolute_url() + "#trading"
    assert client.get(reverse("market:instrument", args=["NOPE"])).status_code == 404


@pytest.mark.parametrize("orders", [1, 6])
def test_vehicle_page_queries_do_not_grow_with_orders(
    client, signed_in, continuous_instrument, make_trader, place, django_assert_num_queries, orders
):
    instrument = continuous_instrument()
    trader = make_trader()
    for index in range(orders):
        place(trader, instrument, "buy", 1, f"9{index}.00")
        place(instrument.vehicle.owner, instrument, "sell", 1, f"10{index}.00")
    place(make_trader(), instrument, "buy", 1, "100.00")  # a trade, so bars and trades exist
    url = instrument.vehicle.get_absolute_url()
    trader_client = signed_in(trader)

    with django_assert_num_queries(VEHICLE_PAGE_QUERIES_ANONYMOUS):
        client.get(url)
    with django_assert_num_queries(VEHICLE_PAGE_QUERIES_ANONYMOUS_REUSED):
        client.get(url)
    with django_assert_num_queries(VEHICLE_PAGE_QUERIES_SIGNED_IN_REUSED):
        trader_client.get(url)
    page_sections.public_states.clear()
    with django_assert_num_queries(VEHICLE_PAGE_QUERIES_SIGNED_IN):
        response = trader_client.get(url)

    assert len(response.context["market_sections"]) == 1
    assert Instrument.objects.count() == 1


def relay_market(instrument: Instrument) -> None:
    """What happens after each commit: the relay numbers the instrument stream's events."""
    relay.relay_streams([instrument_stream(instrument.symbol)])


def test_visitors_share_the_public_state_until_the_stream_moves(
    client, continuous_instrument, make_trader, place, django_assert_num_queries
):
    instrument = continuous_instrument()
    buyer = make_trader()
    place(buyer, instrument, "buy", 4, "97.50")
    relay_market(instrument)
    url = instrument.vehicle.get_absolute_url()
    client.get(url)

    place(instrument.vehicle.owner, instrument, "sell", 1, "97.50")  # committed, not relayed
    with django_assert_num_queries(VEHICLE_PAGE_QUERIES_ANONYMOUS_REUSED):
        before = config_of(client.get(url).content.decode())["initial"]
    relay_market(instrument)
    after = config_of(client.get(url).content.decode())["initial"]

    assert before["book"]["bids"] == [{"price": "97.50", "quantity": 4, "orders": 1}]
    assert before["ticker"]["last_price"] is None
    assert after["book"]["bids"] == [{"price": "97.50", "quantity": 3, "orders": 1}]
    assert after["ticker"]["last_price"] == "97.50"
    assert [bar["volume"] for bar in after["bars"]] == [1]


def test_public_state_is_read_again_when_the_phase_moves_or_it_is_old(
    client, continuous_instrument, travel, monkeypatch, django_assert_num_queries
):
    instrument = continuous_instrument()
    relay_market(instrument)
    url = instrument.vehicle.get_absolute_url()
    client.get(url)

    travel("15:56")  # the closing call: same stream number, another phase
    with django_assert_num_queries(VEHICLE_PAGE_QUERIES_ANONYMOUS + 1):  # + the indicative
        html = client.get(url).content.decode()
    assert config_of(html)["initial"]["ticker"]["phase"] == "closing_call"

    monkeypatch.setattr(page_sections.public_states, "seconds", 0.0)
    with django_assert_num_queries(VEHICLE_PAGE_QUERIES_ANONYMOUS + 1):
        client.get(url)


def test_shared_public_state_carries_nothing_of_the_visitor_who_read_it(
    signed_in, continuous_instrument, make_trader, place
):
    instrument = continuous_instrument()
    first, second = make_trader(), make_trader()
    place(first, instrument, "buy", 4, "97.50")
    relay_market(instrument)
    url = instrument.vehicle.get_absolute_url()
    first_html = signed_in(first).get(url).content.decode()

    second_html = signed_in(second).get(url).content.decode()

    assert 'data-cash-available="9606.10"' in first_html
    assert 'data-cash-available="10000.00"' in second_html
    assert page_sections.public_states.names() == [instrument.pk]
    assert second_html.count("97.50") == first_html.count("97.50") - 1  # not the open order
