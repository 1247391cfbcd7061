"""Orders through the REST API: the worked examples of MARKET_RULES, idempotency, privacy."""

from decimal import Decimal

import pytest

from market.models import Order, OrderStatus, Trade
from market.services.control import market_halt

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def order_url(order_id):
    return f"{ORDERS}{order_id}/"


def place(client, instrument, side, quantity, price=None, **fields):
    payload = {"symbol": instrument.symbol, "side": side, "quantity": quantity, **fields}
    if price is not None:
        payload["price"] = price
    else:
        payload.setdefault("type", "market")
    return client.post(ORDERS, payload, format="json")


def account(client):
    response = client.get("/api/v1/account/")
    assert response.status_code == 200
    return response.json()


def test_buyer_and_seller_trade_at_the_resting_price_with_one_percent_fee_each(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    seller = client_for(instrument.vehicle.owner)
    buyer = client_for(make_trader(cash="10000.00"))

    ask = place(seller, instrument, "sell", 50, "107.00")
    bid = place(buyer, instrument, "buy", 50, "110.00")

    assert (ask.status_code, ask.json()["status"]) == (201, "open")
    assert bid.status_code == 201
    body = bid.json()
    assert {key: body[key] for key in ("status", "filled_quantity", "remaining_quantity")} == {
        "status": "filled",
        "filled_quantity": 50,
        "remaining_quantity": 0,
    }
    assert (body["average_fill_price"], body["fees_paid"], body["reserved_amount"]) == (
        "107.00",
        "53.50",
        "0.00",
    )
    assert [(fill["price"], fill["quantity"]) for fill in body["fills"]] == [("107.00", 50)]
    assert account(buyer) == {
        "cash_balance": "4596.50",  # 10,000 - 5,350 - 53.50
        "cash_reserved": "0.00",
        "cash_available": "4596.50",
        "equity": "9946.50",  # plus 50 shares marked at 107
    }
    assert account(seller) == {
        "cash_balance": "5296.50",  # 5,350 - 53.50
        "cash_reserved": "0.00",
        "cash_available": "5296.50",
        "equity": "106946.50",  # plus 950 shares marked at 107
    }
    trades = buyer.get(f"/api/v1/instruments/{instrument.symbol}/trades/").json()
    assert [(t["price"], t["quantity"], t["kind"]) for t in trades] == [
        ("107.00", 50, "continuous")
    ]


def test_market_buy_sweeps_three_levels_and_fills_at_each_resting_price(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    seller = client_for(instrument.vehicle.owner)
    buyer = client_for(make_trader(cash="10000.00"))
    for price in ("101.00", "102.00", "103.00"):
        place(seller, instrument, "sell", 10, price)

    response = place(buyer, instrument, "buy", 30, type="market")

    body = response.json()
    assert (response.status_code, body["status"], body["price"]) == (201, "filled", None)
    assert [(fill["price"], fill["quantity"]) for fill in body["fills"]] == [
        ("101.00", 10),
        ("102.00", 10),
        ("103.00", 10),
    ]
    assert (body["average_fill_price"], body["fees_paid"]) == ("102.00", "30.60")
    book = buyer.get(f"/api/v1/instruments/{instrument.symbol}/book/").json()
    assert book == {"bids": [], "asks": []}
    assert account(buyer)["cash_balance"] == "6909.40"  # 10,000 - 3,060 - 30.60


def test_ioc_order_fills_what_it_can_and_cancels_the_rest(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    place(client_for(instrument.vehicle.owner), instrument, "sell", 10, "101.00")
    buyer = client_for(make_trader(cash="10000.00"))

    response = place(buyer, instrument, "buy", 25, "101.00", time_in_force="ioc")

    body = response.json()
    assert response.status_code == 201
    assert (body["status"], body["filled_quantity"], body["remaining_quantity"]) == (
        "cancelled",
        10,
        15,
    )
    assert body["reserved_amount"] == "0.00"
    assert account(buyer)["cash_reserved"] == "0.00"


def test_order_that_would_cross_own_resting_order_is_refused_as_self_trade(
    continuous_instrument, make_trader, client_for
):
    owner = make_trader(cash="10000.00")
    instrument = continuous_instrument(owner=owner)
    client = client_for(owner)
    place(client, instrument, "sell", 10, "101.00")

    response = place(client, instrument, "buy", 10, "102.00")

    assert response.status_code == 409
    assert response.json()["code"] == "self_trade"
    assert Order.objects.count() == 1
    assert Trade.objects.count() == 0


def test_cancel_releases_the_reservation(continuous_instrument, make_trader, client_for):
    instrument = continuous_instrument()
    buyer = client_for(make_trader(cash="10000.00"))
    order = place(buyer, instrument, "buy", 10, "99.00").json()
    assert account(buyer)["cash_reserved"] == "999.90"  # 990 + 1% fee

    response = buyer.delete(order_url(order["id"]))

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"]) == (order["id"], "cancelled")
    assert account(buyer)["cash_reserved"] == "0.00"
    assert account(buyer)["cash_available"] == "10000.00"


def test_cancel_of_a_closed_order_is_a_conflict(continuous_instrument, make_trader, client_for):
    instrument = continuous_instrument()
    buyer = client_for(make_trader(cash="10000.00"))
    order = place(buyer, instrument, "buy", 10, "99.00").json()
    buyer.delete(order_url(order["id"]))

    response = buyer.delete(order_url(order["id"]))

    assert (response.status_code, response.json()["code"]) == (409, "order_not_open")


def test_retry_with_same_client_order_id_and_content_returns_the_first_order(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    buyer = client_for(make_trader(cash="10000.00"))
    first = place(buyer, instrument, "buy", 10, "99.00", client_order_id="abc-1")

    retry = place(buyer, instrument, "buy", 10, "99.00", client_order_id="abc-1")

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert Order.objects.count() == 1
    assert account(buyer)["cash_reserved"] == "999.90"


def test_same_client_order_id_with_other_content_is_a_conflict(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    buyer = client_for(make_trader(cash="10000.00"))
    place(buyer, instrument, "buy", 10, "99.00", client_order_id="abc-1")

    response = place(buyer, instrument, "buy", 11, "99.00", client_order_id="abc-1")

    assert (response.status_code, response.json()["code"]) == (409, "duplicate_client_order_id")
    assert Order.objects.count() == 1


def test_another_users_order_is_not_found_to_read_or_cancel(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    owner = client_for(make_trader(cash="10000.00"))
    stranger = client_for(make_trader(cash="10000.00"))
    order = place(owner, instrument, "buy", 10, "99.00").json()

    read = stranger.get(order_url(order["id"]))
    cancel = stranger.delete(order_url(order["id"]))

    assert (read.status_code, cancel.status_code) == (404, 404)
    assert read.json()["code"] == cancel.json()["code"] == "order_not_found"
    assert Order.objects.get().status == OrderStatus.OPEN


@pytest.mark.parametrize("order_id", [0, 999_999, 2**70])
def test_unknown_order_id_is_not_found(make_trader, client_for, order_id):
    client = client_for(make_trader())

    assert client.get(order_url(order_id)).status_code == 404
    assert client.delete(order_url(order_id)).status_code == 404


def test_own_orders_list_filters_open_ones_and_hides_other_users(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    buyer = client_for(make_trader(cash="10000.00"))
    kept = place(buyer, instrument, "buy", 10, "98.00").json()
    cancelled = place(buyer, instrument, "buy", 10, "97.00").json()
    buyer.delete(order_url(cancelled["id"]))
    place(client_for(make_trader(cash="10000.00")), instrument, "buy", 5, "96.00")

    everything = buyer.get(ORDERS).json()
    open_only = buyer.get(ORDERS, {"status": "open"}).json()

    assert [row["id"] for row in everything["results"]] == [cancelled["id"], kept["id"]]
    assert [row["id"] for row in open_only["results"]] == [kept["id"]]
    assert open_only["count"] == 1


def test_unknown_status_filter_is_invalid(make_trader, client_for):
    response = client_for(make_trader()).get(ORDERS, {"status": "bogus"})

    assert (response.status_code, list(response.json()["fields"])) == (400, ["status"])


def test_order_output_has_the_contract_fields(continuous_instrument, make_trader, client_for):
    instrument = continuous_instrument()
    buyer = client_for(make_trader(cash="10000.00"))

    body = place(buyer, instrument, "buy", 10, "99.00", client_order_id="x1").json()

    assert set(body) == {
        "id",
        "symbol",
        "side",
        "type",
        "quantity",
        "price",
        "time_in_force",
        "status",
        "filled_quantity",
        "remaining_quantity",
        "average_fill_price",
        "client_order_id",
        "reserved_amount",
        "fees_paid",
        "created_at",
        "fills",
    }
    assert (body["symbol"], body["price"], body["average_fill_price"]) == (
        instrument.symbol,
        "99.00",
        None,
    )
    assert body["created_at"].endswith(("-05:00", "-04:00", "+00:00", "Z"))


VALID = {"side": "buy", "type": "limit", "quantity": 10, "price": "100.00"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": -1}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": "1.5"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": 10.0}, "quantity"),
        ({"quantity": "10"}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": 1001}, "quantity"),  # more than the instrument's 1,000 shares
        ({"quantity": 10**7}, "quantity"),
        ({"quantity": 10**30}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"price": "100.001"}, "price"),  # off the tick
        ({"price": "-5.00"}, "price"),
        ({"price": "0"}, "price"),
        ({"price": "0.00"}, "price"),
        ({"price": "1000000.01"}, "price"),
        ({"price": "99999999999999999999999"}, "price"),
        ({"price": "1e2"}, "price"),
        ({"price": "1E2"}, "price"),
        ({"price": 98.5}, "price"),
        ({"price": 100.0}, "price"),
        ({"price": "NaN"}, "price"),
        ({"price": "Infinity"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": " "}, "price"),
        ({"price": True}, "price"),
        ({"price": ["100.00"]}, "price"),
        ({"price": {"amount": "100.00"}}, "price"),
        ({"price": None}, "price"),  # a limit order needs one
        ({"type": "market"}, "price"),  # a market order has none
        ({"side": "hold"}, "side"),
        ({"side": "BUY"}, "side"),
        ({"side": 1}, "side"),
        ({"type": "stop"}, "type"),
        ({"time_in_force": "fok"}, "time_in_force"),
        ({"symbol": 123}, "symbol"),
        ({"symbol": ""}, "symbol"),
        ({"client_order_id": 7}, "client_order_id"),
        ({"client_order_id": ""}, "client_order_id"),
        ({"client_order_id": "x" * 65}, "client_order_id"),
    ],
)
def test_bad_order_input_is_refused_field_by_field_and_nothing_is_stored(
    continuous_instrument, make_trader, client_for, change, field
):
    instrument = continuous_instrument()
    client = client_for(make_trader(cash="10000.00"))

    response = client.post(ORDERS, {"symbol": instrument.symbol, **VALID, **change}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert field in body["fields"]
    assert body["code"] in {"invalid", "invalid_order"}
    assert Order.objects.count() == 0
    assert account(client)["cash_reserved"] == "0.00"


@pytest.mark.parametrize("missing", ["symbol", "side", "quantity"])
def test_missing_required_field_is_refused(continuous_instrument, make_trader, client_for, missing):
    instrument = continuous_instrument()
    payload = {"symbol": instrument.symbol, **VALID}
    del payload[missing]

    response = client_for(make_trader()).post(ORDERS, payload, format="json")

    assert (response.status_code, list(response.json()["fields"])) == (400, [missing])
    assert Order.objects.count() == 0


@pytest.mark.parametrize("body", [[], "buy", 10, None])
def test_body_that_is_not_an_object_is_refused(make_trader, client_for, body):
    response = client_for(make_trader()).post(ORDERS, body, format="json")

    assert response.status_code == 400
    assert Order.objects.count() == 0


def test_malformed_json_is_refused(make_trader, client_for):
    response = client_for(make_trader()).post(
        ORDERS, data="{not json", content_type="application/json"
    )

    assert (response.status_code, response.json()["code"]) == (400, "parse_error")


def test_unknown_symbol_is_not_found(make_trader, client_for, travel):
    travel("10:00")
    client = client_for(make_trader())

    response = client.post(ORDERS, {"symbol": "NOPE", **VALID}, format="json")

    assert (response.status_code, response.json()["code"]) == (404, "instrument_not_found")
    assert Order.objects.count() == 0


def test_integral_json_number_is_accepted_as_a_price(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    client = client_for(make_trader(cash="10000.00"))

    response = place(client, instrument, "buy", 10, 99)

    assert (response.status_code, response.json()["price"]) == (201, "99.00")


def test_orders_on_a_halted_instrument_are_a_conflict(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    market_halt(symbol=instrument.symbol)

    response = place(client_for(make_trader()), instrument, "buy", 10, "99.00")

    assert (response.status_code, response.json()["code"]) == (409, "market_halted")


def test_buy_beyond_available_cash_is_a_conflict(continuous_instrument, make_trader, client_for):
    instrument = continuous_instrument()

    response = place(client_for(make_trader(cash="100.00")), instrument, "buy", 10, "99.00")

    assert (response.status_code, response.json()["code"]) == (409, "insufficient_cash")
    assert Order.objects.count() == 0


def test_amounts_are_decimal_strings(continuous_instrument, make_trader, client_for):
    instrument = continuous_instrument()
    body = place(client_for(make_trader(cash="10000.00")), instrument, "buy", 3, "33.33").json()

    assert body["reserved_amount"] == str(Decimal("99.99") + Decimal("1.00"))
