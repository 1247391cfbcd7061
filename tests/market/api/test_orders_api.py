"""Orders through the REST API: the worked examples of MARKET_RULES, idempotency, privacy."""

from decimal import Decimal

import pytest

from market.models import AuditEvent, LedgerEntry, Order, OrderStatus, Trade
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


def stored_state(client):
    """Everything a refused order must leave as it was: orders, trades, audit events, ledger
    entries, and the caller's cash. A refusal by the market's rules (past input parsing) is
    audited with its reason, `order.rejected`; that is the one record it may leave."""
    return (
        Order.objects.count(),
        Trade.objects.count(),
        AuditEvent.objects.exclude(action="order.rejected").count(),
        LedgerEntry.objects.count(),
        account(client),
    )


# The bad-input table: each change to a valid limit order is a 400 naming the field. Prices are
# decimal strings; a JSON integer is accepted (it is exact), a JSON number with a fraction never,
# even 100.5, which a float holds exactly: the API does not guess which floats carry cents
# (docs/api.md).
@pytest.mark.parametrize(
    ("change", "field"),
    [
        # quantity: a JSON integer from 1 to the instrument's shares
        ({"quantity": -1}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": -(10**30)}, "quantity"),
        ({"quantity": "1.5"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": 10.0}, "quantity"),
        ({"quantity": 1e2}, "quantity"),
        ({"quantity": "1e2"}, "quantity"),
        ({"quantity": "10"}, "quantity"),
        ({"quantity": "\u0661\u0660"}, "quantity"),  # Arabic-Indic digits
        ({"quantity": True}, "quantity"),
        ({"quantity": [10]}, "quantity"),
        ({"quantity": {"shares": 10}}, "quantity"),
        ({"quantity": 1001}, "quantity"),  # more than the instrument's 1,000 shares
        ({"quantity": 10**7}, "quantity"),
        ({"quantity": 10**30}, "quantity"),
        ({"quantity": None}, "quantity"),
        # price: on the tick, 0.01 to 1,000,000.00, a plain decimal string (or JSON integer)
        ({"price": "100.001"}, "price"),  # off the tick
        ({"price": "0.001"}, "price"),
        ({"price": "-5.00"}, "price"),
        ({"price": "-0.00"}, "price"),
        ({"price": "0"}, "price"),
        ({"price": "0.00"}, "price"),
        ({"price": -5}, "price"),
        ({"price": 0}, "price"),
        ({"price": "1000000.01"}, "price"),
        ({"price": 1_000_001}, "price"),
        ({"price": 10**30}, "price"),
        ({"price": "99999999999999999999999"}, "price"),
        ({"price": "1e2"}, "price"),
        ({"price": "1E2"}, "price"),
        ({"price": "1e-2"}, "price"),
        ({"price": 98.5}, "price"),
        ({"price": 100.5}, "price"),
        ({"price": 100.0}, "price"),
        ({"price": 1e300}, "price"),
        ({"price": "+100.00"}, "price"),
        ({"price": "1,000.00"}, "price"),
        ({"price": "1_000.00"}, "price"),
        ({"price": "100."}, "price"),
        ({"price": ".50"}, "price"),
        ({"price": "$100.00"}, "price"),
        ({"price": "\uff11\uff10\uff10.00"}, "price"),  # fullwidth digits
        ({"price": "\u0661\u0660\u0660.00"}, "price"),  # Arabic-Indic digits
        ({"price": "NaN"}, "price"),
        ({"price": "Infinity"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": ""}, "price"),
        ({"price": " "}, "price"),
        ({"price": True}, "price"),
        ({"price": ["100.00"]}, "price"),
        ({"price": {"amount": "100.00"}}, "price"),
        ({"price": None}, "price"),  # a limit order needs one
        ({"type": "market"}, "price"),  # a market order has none
        # side, type, time in force: one of their words, exactly
        ({"side": "hold"}, "side"),
        ({"side": "BUY"}, "side"),
        ({"side": ""}, "side"),
        ({"side": None}, "side"),
        ({"side": 1}, "side"),
        ({"side": ["buy"]}, "side"),
        ({"type": "stop"}, "type"),
        ({"type": None}, "type"),
        ({"time_in_force": "fok"}, "time_in_force"),
        ({"time_in_force": None}, "time_in_force"),
        # symbol and client_order_id: strings
        ({"symbol": 123}, "symbol"),
        ({"symbol": ""}, "symbol"),
        ({"symbol": None}, "symbol"),
        ({"symbol": ["CAR1"]}, "symbol"),
        ({"symbol": "X" * 33}, "symbol"),
        ({"symbol": "CAR\x001"}, "symbol"),
        ({"client_order_id": 7}, "client_order_id"),
        ({"client_order_id": ""}, "client_order_id"),
        ({"client_order_id": "x" * 65}, "client_order_id"),
        ({"client_order_id": "a\x00b"}, "client_order_id"),
    ],
)
def test_bad_order_input_is_refused_field_by_field_and_nothing_is_stored(
    continuous_instrument, make_trader, client_for, change, field
):
    instrument = continuous_instrument()
    client = client_for(make_trader(cash="10000.00"))
    before = stored_state(client)

    response = client.post(ORDERS, {"symbol": instrument.symbol, **VALID, **change}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert list(body["fields"]) == [field]
    assert body["fields"][field][0] == body["detail"]
    assert body["code"] in {"invalid", "invalid_order"}
    assert stored_state(client) == before
    rejections = AuditEvent.objects.filter(action="order.rejected")
    assert [event.data["code"] for event in rejections] in ([], [body["code"]])


@pytest.mark.parametrize("missing", ["symbol", "side", "quantity"])
def test_missing_required_field_is_refused(continuous_instrument, make_trader, client_for, missing):
    instrument = continuous_instrument()
    client = client_for(make_trader())
    payload = {"symbol": instrument.symbol, **VALID}
    del payload[missing]
    before = stored_state(client)

    response = client.post(ORDERS, payload, format="json")

    assert (response.status_code, list(response.json()["fields"])) == (400, [missing])
    assert response.json()["fields"][missing] == ["This field is required."]
    assert stored_state(client) == before


def test_several_bad_fields_are_all_named(continuous_instrument, make_trader, client_for):
    instrument = continuous_instrument()
    client = client_for(make_trader())
    before = stored_state(client)

    response = client.post(
        ORDERS,
        {"symbol": instrument.symbol, "side": "hold", "quantity": "ten", "price": 9.5},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"side", "quantity", "price"}
    assert stored_state(client) == before


def test_form_encoded_order_is_refused_as_unsupported(
    continuous_instrument, make_trader, client_for
):
    instrument = continuous_instrument()
    client = client_for(make_trader())
    before = stored_state(client)

    response = client.post(ORDERS, {"symbol": instrument.symbol, **VALID})  # multipart

    assert (response.status_code, response.json()["code"]) == (415, "unsupported_media_type")
    assert stored_state(client) == before


@pytest.mark.parametrize("body", [[], "buy", 10, None])
def test_body_that_is_not_an_object_is_refused(make_trader, client_for, body):
    response = client_for(make_trader()).post(ORDERS, body, format="json")

    assert response.status_code == 400
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"symbol": "\\ud800", "side": "buy", "quantity": 10, "price": "100.00"}',
        '{"symbol": "SYM", "side": "buy", "quantity": 10, "price": "100.00", '
        '"client_order_id": "a\\udfffb"}',
        '{"symbol": "SYM", "side": "buy", "quantity": 10, "price": "100.00", "\\udc00": 1}',
    ],
)
def test_text_with_an_unpaired_surrogate_is_refused(
    continuous_instrument, make_trader, client_for, raw
):
    """JSON can spell half a UTF-16 pair, which no database or response can encode: refused
    before anything happens (it used to answer 500, the order already saved)."""
    instrument = continuous_instrument()
    client = client_for(make_trader())
    before = stored_state(client)

    response = client.post(
        ORDERS, data=raw.replace("SYM", instrument.symbol), content_type="application/json"
    )

    assert (response.status_code, response.json()["code"]) == (400, "parse_error")
    assert "surrogate" in response.json()["detail"]
    assert stored_state(client) == before


def test_a_surrogate_pair_is_ordinary_text(continuous_instrument, make_trader, client_for):
    instrument = continuous_instrument()
    raw = '{"symbol": "SYM", "side": "buy", "quantity": 1, "price": "99.00", '
    raw += '"client_order_id": "car-\\ud83d\\ude97"}'

    response = client_for(make_trader()).post(
        ORDERS, data=raw.replace("SYM", instrument.symbol), content_type="application/json"
    )

    assert (response.status_code, response.json()["client_order_id"]) == (201, "car-\U0001f697")


def test_malformed_json_is_refused(make_trader, client_for):
    response = client_for(make_trader()).post(
        ORDERS, data="{not json", content_type="application/json"
    )

    assert (response.status_code, response.json()["code"]) == (400, "parse_error")


@pytest.mark.parametrize("symbol", ["NOPE", "car1", "CAR1 ", "ZZZZZZZZZZZZ"])
def test_unknown_symbol_is_not_found(make_trader, client_for, travel, symbol):
    travel("10:00")
    client = client_for(make_trader())
    before = stored_state(client)

    response = client.post(ORDERS, {"symbol": symbol, **VALID}, format="json")

    body = response.json()
    assert (response.status_code, body["code"], list(body["fields"])) == (
        404,
        "instrument_not_found",
        ["symbol"],
    )
    assert stored_state(client) == before


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
