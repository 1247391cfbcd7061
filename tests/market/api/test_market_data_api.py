"""Public market data: tickers, book, trades, bars and auctions (MARKET_RULES 9 and 10)."""

import pytest
from rest_framework.test import APIClient

from market.models import AuctionKind
from market.services.auctions import auction_run
from market.services.orders import order_place
from tests.market.conftest import TRADING_DAY

pytestmark = pytest.mark.django_db

TICKER_FIELDS = {
    "symbol",
    "phase",
    "last_price",
    "previous_close",
    "change",
    "change_percent",
    "open",
    "high",
    "low",
    "volume",
    "best_bid",
    "best_bid_quantity",
    "best_ask",
    "best_ask_quantity",
    "spread",
    "indicative_price",
    "indicative_volume",
}


def url(instrument, suffix=""):
    return f"/api/v1/instruments/{instrument.symbol}/{suffix}"


def place(user, instrument, side, quantity, price=None, **kwargs):
    kwargs.setdefault("type", "limit" if price is not None else "market")
    return order_place(
        user_id=user.pk,
        symbol=instrument.symbol,
        side=side,
        quantity=quantity,
        price=price,
        **kwargs,
    )


def test_ticker_in_continuous_trading_shows_the_days_trading_and_the_best_prices(
    continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    owner, buyer = instrument.vehicle.owner, make_trader(cash="10000.00")
    place(owner, instrument, "sell", 10, "104.00")
    place(owner, instrument, "sell", 5, "106.00")
    place(owner, instrument, "sell", 7, "106.00")
    place(buyer, instrument, "buy", 4, "104.00")
    place(buyer, instrument, "buy", 3, "101.00")

    body = APIClient().get(url(instrument)).json()

    assert set(body) >= TICKER_FIELDS
    assert {key: body[key] for key in TICKER_FIELDS} == {
        "symbol": instrument.symbol,
        "phase": "continuous",
        "last_price": "104.00",
        "previous_close": "100.00",  # never closed: the listing price
        "change": "4.00",
        "change_percent": "4.00",
        "open": "104.00",
        "high": "104.00",
        "low": "104.00",
        "volume": 4,
        "best_bid": "101.00",
        "best_bid_quantity": 3,
        "best_ask": "104.00",
        "best_ask_quantity": 6,
        "spread": "3.00",
        "indicative_price": None,
        "indicative_volume": None,
    }
    assert (body["reference_price"], body["name"]) == ("104.00", "1973 Porsche 911")


def test_ticker_in_the_pre_open_publishes_the_indicative_auction(
    make_instrument, make_trader, travel
):
    travel("09:00")
    instrument = make_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 10, "100.00")
    place(make_trader(cash="10000.00"), instrument, "buy", 10, "102.00")
    place(make_trader(cash="10000.00"), instrument, "buy", 5)  # a market order: no level

    body = APIClient().get(url(instrument)).json()

    # 10 shares cross at 100 and at 102, both with a buy surplus of 5: pressure picks 102.
    assert (body["phase"], body["indicative_price"], body["indicative_volume"]) == (
        "pre_open",
        "102.00",
        10,
    )
    assert (body["best_bid"], body["best_bid_quantity"]) == ("102.00", 10)
    assert (body["last_price"], body["volume"], body["open"]) == (None, 0, None)


def test_instruments_list_shows_every_instrument_with_its_ticker(make_instrument, travel):
    travel("09:00")
    first, second = make_instrument(), make_instrument()

    body = APIClient().get("/api/v1/instruments/").json()

    assert [row["symbol"] for row in body] == sorted([first.symbol, second.symbol])
    assert all(set(row) >= TICKER_FIELDS for row in body)


def test_book_aggregates_orders_by_price_level_best_first(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    for price, quantity in (("103.00", 5), ("101.00", 2), ("101.00", 3), ("102.00", 1)):
        place(owner, instrument, "sell", quantity, price)
    for price in ("99.00", "98.00", "99.00"):
        place(make_trader(cash="10000.00"), instrument, "buy", 4, price)

    body = APIClient().get(url(instrument, "book/"), {"depth": 2}).json()

    assert body == {
        "bids": [
            {"price": "99.00", "quantity": 8, "orders": 2},
            {"price": "98.00", "quantity": 4, "orders": 1},
        ],
        "asks": [
            {"price": "101.00", "quantity": 5, "orders": 2},
            {"price": "102.00", "quantity": 1, "orders": 1},
        ],
    }


def test_book_counts_only_the_unfilled_rest_of_a_partly_filled_order(
    continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 10, "101.00")
    place(make_trader(cash="10000.00"), instrument, "buy", 4, "101.00")

    body = APIClient().get(url(instrument, "book/")).json()

    assert body["asks"] == [{"price": "101.00", "quantity": 6, "orders": 1}]


@pytest.mark.parametrize(
    ("suffix", "query", "field"),
    [
        ("book/", {"depth": 0}, "depth"),
        ("book/", {"depth": 51}, "depth"),
        ("book/", {"depth": "ten"}, "depth"),
        ("bars/", {"minutes": 0}, "minutes"),
        ("bars/", {"minutes": 391}, "minutes"),
        ("bars/", {"minutes": "1e2"}, "minutes"),
        ("trades/", {"limit": 0}, "limit"),
        ("trades/", {"limit": 201}, "limit"),
    ],
)
def test_bad_market_data_parameters_are_refused(make_instrument, suffix, query, field):
    instrument = make_instrument()

    response = APIClient().get(url(instrument, suffix), query)

    assert (response.status_code, list(response.json()["fields"])) == (400, [field])


@pytest.mark.parametrize("suffix", ["", "book/", "trades/", "bars/", "auctions/"])
def test_unknown_symbol_is_not_found(db, suffix):
    response = APIClient().get(f"/api/v1/instruments/NOPE/{suffix}")

    assert (response.status_code, response.json()["code"]) == (404, "instrument_not_found")


def test_symbol_is_found_in_any_case(make_instrument):
    instrument = make_instrument()

    response = APIClient().get(f"/api/v1/instruments/{instrument.symbol.lower()}/")

    assert (response.status_code, response.json()["symbol"]) == (200, instrument.symbol)


def test_trades_are_listed_newest_first_with_their_kind(continuous_instrument, make_trader, travel):
    instrument = continuous_instrument()
    owner, buyer = instrument.vehicle.owner, make_trader(cash="10000.00")
    place(owner, instrument, "sell", 3, "101.00")
    place(owner, instrument, "sell", 4, "102.00")
    place(buyer, instrument, "buy", 3, "101.00")
    travel("10:05")
    place(buyer, instrument, "buy", 4, "102.00")

    body = APIClient().get(url(instrument, "trades/")).json()

    assert [(t["price"], t["quantity"], t["kind"]) for t in body] == [
        ("102.00", 4, "continuous"),
        ("101.00", 3, "continuous"),
    ]
    assert body[0]["executed_at"] == "2026-11-18T10:05:00-05:00"


def test_bars_bucket_trades_by_minute(continuous_instrument, make_trader, travel):
    instrument = continuous_instrument()
    owner, buyer = instrument.vehicle.owner, make_trader(cash="10000.00")
    for price in ("101.00", "103.00", "102.00", "104.00"):
        place(owner, instrument, "sell", 2, price)
    place(buyer, instrument, "buy", 2, "101.00")
    place(buyer, instrument, "buy", 2, "103.00")  # takes 102.00
    travel("10:01:30")
    place(buyer, instrument, "buy", 2, "103.00")
    travel("10:02")

    body = APIClient().get(url(instrument, "bars/"), {"minutes": 5}).json()

    assert body == [
        {
            "time": "2026-11-18T10:00:00-05:00",
            "open": "101.00",
            "high": "102.00",
            "low": "101.00",
            "close": "102.00",
            "volume": 4,
        },
        {
            "time": "2026-11-18T10:01:00-05:00",
            "open": "103.00",
            "high": "103.00",
            "low": "103.00",
            "close": "103.00",
            "volume": 2,
        },
    ]


def test_bars_leave_out_trades_older_than_the_window(continuous_instrument, make_trader, travel):
    instrument = continuous_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 2, "101.00")
    place(make_trader(cash="10000.00"), instrument, "buy", 2, "101.00")
    travel("10:30")

    body = APIClient().get(url(instrument, "bars/"), {"minutes": 30}).json()

    assert body == []


def test_auctions_list_the_records_newest_first(make_instrument, make_trader, travel):
    travel("09:00")
    instrument = make_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 10, "100.00")
    place(make_trader(cash="10000.00"), instrument, "buy", 6, "101.00")
    travel("09:30")
    auction_run(instrument_id=instrument.pk, trading_date=TRADING_DAY, kind=AuctionKind.OPENING)

    body = APIClient().get(url(instrument, "auctions/")).json()

    assert body["count"] == 1
    [record] = body["results"]
    assert {key: record[key] for key in ("kind", "trading_date", "price", "volume", "surplus")} == {
        "kind": "opening",
        "trading_date": "2026-11-18",
        "price": "100.00",
        "volume": 6,
        "surplus": -4,
    }
    assert record["surplus_side"] == "sell"
