"""The market overview (home): every listed vehicle with its ticker, sparkline, phase, countdown."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from market import clock
from market.calendar import get_calendar
from tests.market.conftest import TRADING_DAY, market_time

pytestmark = pytest.mark.django_db

NEXT_DAY = date(2026, 11, 19)
# Tickers (1, in continuous trading), covers (1), sparklines (1); none for the anonymous user.
HOME_QUERIES = 3


def test_home_lists_every_instrument_with_price_change_volume_and_sparkline(
    client, continuous_instrument, make_trader, place
):
    instrument = continuous_instrument()
    owner, buyer = instrument.vehicle.owner, make_trader()
    place(owner, instrument, "sell", 5, "101.00")
    place(buyer, instrument, "buy", 5, "101.00")

    response = client.get(reverse("home"))

    html = response.content.decode()
    assert response.status_code == 200
    assert instrument.symbol in html
    assert "101.00" in html
    # The change vs the previous close (the listing price): arrow, sign and colour class.
    assert re.search(r'class="change up".*?▲.*?Up </span>\+1\.00 \(\+1\.00%\)', html, re.S)
    assert 'Vol. <span class="price">5</span>' in html
    assert '<svg class="sparkline flat"' in html
    assert "<polyline points=" in html
    assert instrument.vehicle.placeholder_url in html


def test_home_shows_the_phase_and_the_next_transition_as_a_real_instant(client, travel):
    travel("09:00")

    response = client.get(reverse("home"))

    clock_state = response.context["clock"]
    html = response.content.decode()
    assert clock_state["phase"] == "pre_open"
    assert clock_state["next_kind"] == "opening_auction"
    assert clock_state["next_at"] == clock.to_real(market_time("09:30"))
    assert f'data-next-at="{clock_state["next_at"].isoformat()}"' in html
    assert "Pre-open (call)" in html
    assert "Opening auction" in html


def test_home_countdown_targets_the_real_instant_on_the_demo_clock(client, travel, settings):
    settings.MARKET_DEMO_DAY_SECONDS = 600
    settings.MARKET_DEMO_EPOCH = "2026-11-18T14:00:30+00:00"
    settings.MARKET_DEMO_START_DATE = "2026-11-18"
    clock.demo_epoch.cache_clear()
    travel("09:01")  # real 14:01Z: 30 s into the 600 s cycle, the demo's pre-open
    try:
        response = client.get(reverse("home"))
    finally:
        clock.demo_epoch.cache_clear()

    next_at: datetime = response.context["clock"]["next_at"]
    # Pre-open is the first 10% of the cycle (60 s): the opening auction is at 14:01:30Z.
    assert next_at == datetime.fromisoformat("2026-11-18T14:01:30+00:00")
    assert response.context["clock"]["next_market_at"] == get_calendar().open_at(clock.now().date())


def test_home_says_so_when_nothing_is_listed(client):
    response = client.get(reverse("home"))

    assert "No vehicle is listed yet" in response.content.decode()


@pytest.mark.parametrize("instruments", [1, 4])
def test_home_queries_do_not_grow_with_the_instruments(
    client, continuous_instrument, make_trader, place, django_assert_num_queries, instruments
):
    buyer = make_trader()
    for _ in range(instruments):
        instrument = continuous_instrument()
        place(instrument.vehicle.owner, instrument, "sell", 3, "99.00")
        place(buyer, instrument, "buy", 2, "99.00")

    with django_assert_num_queries(HOME_QUERIES):
        response = client.get(reverse("home"))

    assert len(response.context["rows"]) == instruments


def test_clock_json_gives_the_phase_and_the_next_real_instant(client, travel):
    travel("15:56")

    data = client.get(reverse("market:clock")).json()

    assert data["phase"] == "closing_call"
    assert data["next_kind"] == "closing_auction"
    assert datetime.fromisoformat(data["next_at"]) == market_time("16:00")
    assert datetime.fromisoformat(data["server_now"]) == market_time("15:56")


def test_during_the_pre_open_the_sparkline_shows_the_day_just_closed(
    client, continuous_instrument, make_trader, place, travel
):
    instrument = continuous_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 2, "104.00")
    place(make_trader(), instrument, "buy", 2, "104.00")
    travel("09:00", NEXT_DAY)

    response = client.get(reverse("home"))

    assert response.context["sparkline_date"] == TRADING_DAY
    assert response.context["rows"][0]["sparkline"] == [Decimal("104.00")]
    assert "prices on Wed, Nov 18" in response.content.decode()
