"""The WebSocket streams with the in-memory channel layer (embedded mode): snapshot first, then
every message in sequence; nothing from a rolled-back transaction; who may see what."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from market import broadcast, locks, relay, selectors
from market.models import MarketEvent, Notification, Order, StreamCursor
from market.services.control import market_halt
from market.services.ledger import cash_deposit
from market.services.orders import PlaceOrder, book_execute, order_cancel, order_place
from tests.market.realtime.conftest import assert_in_sequence, db, messages_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seller(make_trader):
    return make_trader(cash="1000.00")


@pytest.fixture
def buyer(make_trader):
    return make_trader(cash="10000.00")


@pytest.fixture
def car(continuous_instrument, seller):
    """In continuous trading; the seller listed it and holds all 1,000 shares."""
    return continuous_instrument(owner=seller)


def place(user: Any, symbol: str, side: str, quantity: int, price: str) -> Order:
    return order_place(user_id=user.pk, symbol=symbol, side=side, quantity=quantity, price=price)


def public_path(instrument: Any) -> str:
    return f"/ws/instruments/{instrument.symbol}/"


# --- the public stream ------------------------------------------------------------------------


async def test_public_stream_sends_a_snapshot_then_every_update_in_sequence(
    open_stream, car, seller, buyer
):
    accepted, stream = await open_stream(public_path(car))
    snapshot = await stream.receive()

    await db(place)(seller, car.symbol, "sell", 10, "101.00")
    await db(place)(buyer, car.symbol, "buy", 4, "101.00")
    await db(place)(buyer, car.symbol, "buy", 6, "101.00")
    # A state message computed after the second trade's commit can go out before that trade's
    # own message (docs/realtime.md), and then no later one need follow: wait for both trades
    # and for the ticker that shows them, in whichever order they come.
    trades_seen, final_ticker_seen = 0, False

    def both_trades_and_the_ticker_showing_them(message: dict[str, Any]) -> bool:
        nonlocal trades_seen, final_ticker_seen
        trades_seen += message["type"] == "trade"
        final_ticker_seen |= message["type"] == "ticker" and message["data"]["volume"] == 10
        return trades_seen == 2 and final_ticker_seen

    received = await stream.receive_until(both_trades_and_the_ticker_showing_them)

    assert accepted
    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["phase"] == "continuous"
    assert set(snapshot["data"]) == {"symbol", "phase", "ticker", "book", "trades", "indicative"}
    assert_in_sequence(received, after=snapshot["seq"])
    trades = messages_of(received, "trade")
    assert [(trade["data"]["price"], trade["data"]["quantity"]) for trade in trades] == [
        ("101.00", 4),
        ("101.00", 6),
    ]
    assert messages_of(received, "ticker")[-1]["data"]["last_price"] == "101.00"


async def test_a_process_joins_a_streams_group_once_whatever_its_clients(open_stream, car, seller):
    """market.broadcast.StreamHub: the group has one member per process, every client gets
    every message, and the last client to leave takes the process out of the group."""
    layer = broadcast.channel_layer()
    group = broadcast.instrument_stream(car.symbol)
    streams = [(await open_stream(public_path(car)))[1] for _ in range(3)]
    snapshots = [await stream.receive() for stream in streams]

    assert len(layer.groups[group]) == 1
    await db(place)(seller, car.symbol, "sell", 5, "102.00")
    for stream, snapshot in zip(streams, snapshots, strict=True):
        received = await stream.receive_until(lambda message: message["type"] == "ticker")
        assert_in_sequence(received, after=snapshot["seq"])
        assert messages_of(received, "book")[-1]["data"]["asks"][0]["price"] == "102.00"

    for stream in streams:
        await stream.communicator.disconnect()
    assert group not in layer.groups


async def test_a_rolled_back_transaction_publishes_nothing(open_stream, car, buyer):
    _, stream = await open_stream(public_path(car))
    await stream.receive()
    await settle()  # whatever the setup left waiting goes out first
    await stream.drain()
    before = await db(MarketEvent.objects.count)()

    written_inside = await db(_place_then_roll_back)(car.symbol, buyer.pk)
    await db(relay.relay_sweep)()

    assert written_inside > before
    assert await db(MarketEvent.objects.count)() == before
    assert await stream.nothing(timeout=0.5)


async def settle() -> None:
    """Sweep until the outbox holds nothing unpublished (markers may wait for the throttle)."""
    for _ in range(50):
        await db(relay.relay_sweep)()
        if not await db(MarketEvent.objects.filter(published_at__isnull=True).exists)():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not empty")


class RolledBack(Exception):
    pass


def _place_then_roll_back(symbol: str, user_id: int) -> int:
    command = PlaceOrder(
        user_id=user_id,
        side="buy",
        type="limit",
        quantity=5,
        price=Decimal("99.00"),
        time_in_force="day",
    )
    written = 0
    try:
        with transaction.atomic():
            [outcome] = book_execute(locks.instrument_for_update(symbol=symbol), [command])
            assert isinstance(outcome, Order)
            written = MarketEvent.objects.count()
            raise RolledBack
    except RolledBack:
        return written
    raise AssertionError("the transaction was not rolled back")


async def test_a_client_can_ask_for_a_fresh_snapshot(open_stream, car, seller):
    _, stream = await open_stream(public_path(car))
    first = await stream.receive()
    await db(place)(seller, car.symbol, "sell", 3, "105.00")
    await stream.receive_until(lambda message: message["type"] == "ticker")

    await stream.send({"type": "snapshot"})
    fresh = await stream.receive()

    assert fresh["type"] == "snapshot"
    assert fresh["seq"] > first["seq"]
    assert fresh["data"]["book"]["asks"] == [{"price": "105.00", "quantity": 3, "orders": 1}]


async def test_an_unknown_symbol_is_closed_with_4404(open_stream):
    _, stream = await open_stream("/ws/instruments/NOSUCH/")

    assert await stream.close_code() == 4404


async def test_a_foreign_origin_is_refused(open_stream, car):
    accepted, _ = await open_stream(public_path(car), origin=b"https://evil.example")

    assert not accepted


async def test_a_burst_of_book_changes_is_coalesced_and_ends_with_the_final_book(
    open_stream, car, seller, settings
):
    # Half a second between state messages, so that "far fewer" holds on a slow machine too.
    settings.MARKET_STREAM_STATE_INTERVAL_MS = 500
    _, stream = await open_stream(public_path(car))
    snapshot = await stream.receive()

    def burst() -> float:
        started = time.monotonic()
        # Each order is the new best ask: every one of them changes the top of the book.
        for step in range(50):
            place(seller, car.symbol, "sell", 1, str(Decimal("110.49") - step * Decimal("0.01")))
        return time.monotonic() - started

    seconds = await db(burst)()
    final = await db(lambda: relay.jsonable(selectors.book_depth(car, 10)))()
    received = await stream.receive_until(
        lambda message: message["type"] == "book" and message["data"]["asks"] == final["asks"],
        timeout=15,
    )
    received += await stream.drain(quiet=1.0)

    books = messages_of(received, "book")
    assert_in_sequence(received, after=snapshot["seq"])
    assert 1 <= len(books) <= seconds / 0.5 + 2
    assert len(books) <= 25
    assert books[-1]["data"]["asks"] == final["asks"]
    assert [level["price"] for level in final["asks"]][:2] == ["110.00", "110.01"]


async def test_operator_halt_is_a_phase_message(open_stream, car):
    _, stream = await open_stream(public_path(car))
    await stream.receive()

    await db(market_halt)(symbol=car.symbol)
    received = await stream.receive_until(lambda message: message["type"] == "phase")

    assert received[-1]["data"]["phase"] == "halted"
    assert received[-1]["data"]["cause"] == "halt"


async def test_the_closing_call_that_the_clock_alone_starts_is_published(open_stream, car, travel):
    _, stream = await open_stream(public_path(car))
    await stream.receive()

    travel("15:56")
    await db(relay.relay_sweep)()
    received = await stream.receive_until(lambda message: message["type"] == "indicative")

    [phase] = messages_of(received, "phase")
    assert phase["data"]["phase"] == "closing_call"
    assert phase["data"]["cause"] == "schedule"


# --- delivery when the channel layer fails ----------------------------------------------------


async def test_events_wait_in_the_outbox_while_the_layer_is_down_then_go_out_in_order(
    open_stream, car, seller, buyer, monkeypatch
):
    _, stream = await open_stream(public_path(car))
    snapshot = await stream.receive()

    def layer_down(batches: list[tuple[str, list[tuple[int, str]]]]) -> None:
        raise ConnectionError("the channel layer is down")

    monkeypatch.setattr(broadcast, "publish_texts", layer_down)
    # The requests succeed: the relay after commit logs and leaves the events.
    await db(place)(seller, car.symbol, "sell", 5, "102.00")
    await db(place)(buyer, car.symbol, "buy", 2, "102.00")
    await db(place)(buyer, car.symbol, "buy", 3, "102.00")
    assert await stream.nothing(timeout=0.3)
    waiting = await db(MarketEvent.objects.filter(published_at__isnull=True).count)()
    monkeypatch.undo()

    await db(relay.relay_sweep)()
    received = await stream.receive_until(
        lambda message: message["type"] == "ticker" and message["data"]["volume"] == 5
    )

    assert waiting > 0
    assert await db(MarketEvent.objects.filter(published_at__isnull=True).count)() == 0
    assert_in_sequence(received, after=snapshot["seq"])
    assert [trade["data"]["quantity"] for trade in messages_of(received, "trade")] == [2, 3]
    assert messages_of(received, "ticker")[-1]["data"]["volume"] == 5


async def test_a_batch_the_layer_lost_is_filled_in_from_the_outbox(
    open_stream, car, seller, buyer, monkeypatch
):
    _, stream = await open_stream(public_path(car))
    snapshot = await stream.receive()
    send = broadcast.publish_texts
    lost: list[list[dict[str, Any]]] = []

    def lose_the_first_public_batch(batches: list[tuple[str, list[tuple[int, str]]]]) -> None:
        kept = []
        for stream_name, messages in batches:
            if stream_name.startswith("instrument.") and messages and not lost:
                lost.append([json.loads(text) for _, text in messages])
            else:
                kept.append((stream_name, messages))
        send(kept)

    monkeypatch.setattr(broadcast, "publish_texts", lose_the_first_public_batch)
    await db(place)(seller, car.symbol, "sell", 5, "103.00")
    await db(place)(buyer, car.symbol, "buy", 5, "103.00")
    received = await stream.receive_until(lambda message: message["type"] == "trade")

    assert lost
    assert_in_sequence(received, after=snapshot["seq"])
    assert received[: len(lost[0])] == lost[0]


async def test_sequence_numbers_of_every_stream_have_no_gap_and_no_repeat(
    open_stream, car, seller, buyer
):
    for price in ("100.00", "100.50"):
        await db(place)(seller, car.symbol, "sell", 2, price)
        await db(place)(buyer, car.symbol, "buy", 2, price)
    await db(relay.relay_sweep)()

    def numbering() -> dict[str, tuple[list[int], int]]:
        found = {}
        for cursor in StreamCursor.objects.all():
            seqs = MarketEvent.objects.filter(stream=cursor.stream, seq__isnull=False)
            found[cursor.stream] = (sorted(seqs.values_list("seq", flat=True)), cursor.last_seq)
        return found

    numbered = await db(numbering)()
    assert {f"instrument.{car.symbol}", f"user.{buyer.pk}", f"user.{seller.pk}"} <= set(numbered)
    for seqs, last in numbered.values():
        assert seqs == list(range(1, last + 1))


# --- the private stream -----------------------------------------------------------------------


async def test_an_anonymous_private_stream_is_closed_with_4401(open_stream):
    _, stream = await open_stream("/ws/me/")

    assert await stream.close_code() == 4401


async def test_a_session_user_gets_a_private_snapshot(open_stream, session_cookie, car, buyer):
    await db(place)(buyer, car.symbol, "buy", 2, "90.00")
    cookie, _ = await db(session_cookie)(buyer)

    _, stream = await open_stream("/ws/me/", cookie=cookie)
    snapshot = await stream.receive()

    data = snapshot["data"]
    assert snapshot["type"] == "snapshot"
    assert data["user_id"] == buyer.pk
    assert data["account"]["cash_balance"] == "10000.00"
    assert data["account"]["cash_reserved"] == "181.80"
    assert [(order["symbol"], order["price"]) for order in data["orders"]] == [
        (car.symbol, "90.00")
    ]
    assert snapshot["seq"] == await db(relay.stream_last_seq)(f"user.{buyer.pk}")


async def test_after_log_out_the_private_stream_closes(open_stream, session_cookie, buyer):
    cookie, client = await db(session_cookie)(buyer)
    _, stream = await open_stream("/ws/me/", cookie=cookie)
    await stream.receive()

    await db(client.logout)()

    assert await stream.close_code() == 4401


async def test_token_authenticates_the_private_stream(open_stream, buyer):
    token = await db(Token.objects.create)(user=buyer)

    _, stream = await open_stream(f"/ws/me/?token={token.key}")
    snapshot = await stream.receive()
    _, wrong = await open_stream("/ws/me/?token=not-a-token")
    buyer.is_active = False
    await db(buyer.save)(update_fields=["is_active"])
    _, inactive = await open_stream(f"/ws/me/?token={token.key}")

    assert snapshot["data"]["user_id"] == buyer.pk
    assert await wrong.close_code() == 4401
    assert await inactive.close_code() == 4401


async def test_two_users_receive_only_their_own_private_messages(
    open_stream, session_cookie, car, seller, buyer
):
    buyer_cookie, _ = await db(session_cookie)(buyer)
    seller_cookie, _ = await db(session_cookie)(seller)
    _, buyer_stream = await open_stream("/ws/me/", cookie=buyer_cookie)
    _, seller_stream = await open_stream("/ws/me/", cookie=seller_cookie)
    buyer_snapshot = await buyer_stream.receive()
    seller_snapshot = await seller_stream.receive()

    order = await db(place)(buyer, car.symbol, "buy", 2, "95.00")
    buyer_received = await buyer_stream.receive_until(lambda message: message["type"] == "account")
    await db(cash_deposit)(user_id=seller.pk, amount="50.00")
    seller_received = await seller_stream.receive_until(
        lambda message: message["type"] == "account"
    )

    assert_in_sequence(buyer_received, after=buyer_snapshot["seq"])
    assert [message["type"] for message in buyer_received] == ["order", "account"]
    assert buyer_received[0]["data"]["id"] == order.pk
    assert [message["type"] for message in seller_received] == ["account"]
    assert seller_received[0]["seq"] == seller_snapshot["seq"] + 1
    assert seller_received[0]["data"]["cash_balance"] == "1050.00"
    assert await buyer_stream.nothing()


async def test_a_fill_reaches_both_sides_with_notifications(
    open_stream, session_cookie, car, seller, buyer
):
    cookie, _ = await db(session_cookie)(buyer)
    _, stream = await open_stream("/ws/me/", cookie=cookie)
    snapshot = await stream.receive()

    await db(place)(seller, car.symbol, "sell", 4, "99.00")
    await db(place)(buyer, car.symbol, "buy", 4, "100.00")
    received = await stream.receive_until(lambda message: message["type"] == "notification")

    assert_in_sequence(received, after=snapshot["seq"])
    assert [message["type"] for message in received] == [
        "order",
        "fill",
        "position",
        "account",
        "notification",
    ]
    fill = received[1]["data"]
    assert (fill["side"], fill["price"], fill["quantity"], fill["fee"]) == (
        "buy",
        "99.00",
        4,
        "3.96",
    )
    position = received[2]["data"]
    assert (position["quantity"], position["average_cost"]) == (4, "99.99")
    assert received[3]["data"] == {
        "cash_balance": "9600.04",
        "cash_reserved": "0.00",
        "cash_available": "9600.04",
    }
    assert received[4]["data"]["kind"] == "order_filled"


async def test_a_cancelled_order_is_an_order_update_and_a_notification(
    open_stream, session_cookie, car, buyer
):
    order = await db(place)(buyer, car.symbol, "buy", 1, "90.00")
    cookie, _ = await db(session_cookie)(buyer)
    _, stream = await open_stream("/ws/me/", cookie=cookie)
    await stream.receive()

    await db(order_cancel)(user_id=buyer.pk, order_id=order.pk)
    received = await stream.receive_until(lambda message: message["type"] == "notification")

    assert received[0]["data"]["status"] == "cancelled"
    assert received[-1]["data"]["kind"] == "order_cancelled"


def test_notifications_api_lists_only_the_users_own(car, seller, buyer):
    place(seller, car.symbol, "sell", 1, "99.00")
    place(buyer, car.symbol, "buy", 1, "99.00")
    client = APIClient()
    client.force_authenticate(buyer)

    response = client.get("/api/v1/notifications/")

    assert response.status_code == 200
    kinds = [row["kind"] for row in response.json()["results"]]
    assert kinds == ["order_filled"]
    assert Notification.objects.filter(user=seller).exists()


async def test_consumers_checking_at_once_share_one_cursor_read(monkeypatch):
    """A thousand clients checking the stream's cursor together cost one query, not one each
    (market.consumers._recent_last_seq)."""
    from market import consumers

    reads = []

    def slow_last_seq(stream: str) -> int:
        reads.append(stream)
        time.sleep(0.05)  # a query that takes a while, so that the checks overlap
        return 41

    monkeypatch.setattr(relay, "stream_last_seq", slow_last_seq)
    consumers._cursors.clear()

    seqs = await asyncio.gather(
        *(consumers._recent_last_seq("instrument.SHARED") for _ in range(50))
    )

    assert seqs == [41] * 50
    assert reads == ["instrument.SHARED"]
