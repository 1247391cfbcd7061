"""The relay's state messages (market.relay): the book, ticker and indicative of every instrument
stream of a relay pass go out together, in statements whose number does not grow with the
streams."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from market import broadcast, outbox, relay, selectors
from market.models import MarketEvent
from market.services.orders import order_place

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """The messages the relay hands the channel layer, decoded, by stream."""
    by_stream: dict[str, list[dict]] = {}

    def publish_texts(batches):
        for stream, messages in batches:
            by_stream.setdefault(stream, []).extend(json.loads(text) for _, text in messages)

    monkeypatch.setattr(broadcast, "publish_texts", publish_texts)
    return by_stream


def books_with_orders(continuous_instrument, make_trader, count):
    """`count` instruments in continuous trading, each with a bid and an ask of its own."""
    buyer = make_trader(cash="100000.00")
    instruments = [continuous_instrument() for _ in range(count)]
    for number, instrument in enumerate(instruments):
        for user, side, price in (
            (instrument.vehicle.owner, "sell", f"{105 + number}.00"),
            (buyer, "buy", f"{95 - number}.00"),
        ):
            order_place(
                user_id=user.pk, symbol=instrument.symbol, side=side, quantity=3, price=price
            )
    return instruments


def state_of(messages):
    return {message["type"] for message in messages} & outbox.MARKERS


def relay_state(instruments):
    streams = sorted(broadcast.instrument_stream(instrument.symbol) for instrument in instruments)
    with CaptureQueriesContext(connection) as queries:
        relay.relay_streams(streams)
    return len(queries)


def test_each_stream_gets_its_own_book_and_ticker_in_one_pass(
    continuous_instrument, make_trader, sent
):
    instruments = books_with_orders(continuous_instrument, make_trader, 3)

    relay_state(instruments)

    for instrument in instruments:
        messages = {message["type"]: message for message in sent[f"instrument.{instrument.symbol}"]}
        book = relay.jsonable(selectors.book_depth(instrument))
        ticker = relay.jsonable(selectors.ticker_get(instrument))
        assert messages["book"]["data"] == {"symbol": instrument.symbol, **book}
        assert messages["ticker"]["data"] == ticker
        assert len(book["bids"]) == len(book["asks"]) == 1
    assert not MarketEvent.objects.filter(
        published_at__isnull=True, type__in=outbox.MARKERS
    ).exists()


def test_the_state_of_many_streams_takes_as_many_statements_as_of_one(
    continuous_instrument, make_trader, sent
):
    one = books_with_orders(continuous_instrument, make_trader, 1)
    five = books_with_orders(continuous_instrument, make_trader, 5)
    MarketEvent.objects.exclude(type__in=outbox.MARKERS).update(published_at=relay.timezone.now())

    statements_for_one = relay_state(one)
    statements_for_five = relay_state(five)

    assert statements_for_one == statements_for_five
    assert len(sent) == 6


def test_a_stream_of_no_instrument_has_its_markers_taken_and_sends_nothing(
    continuous_instrument, make_trader, sent
):
    [instrument] = books_with_orders(continuous_instrument, make_trader, 1)
    outbox.record([outbox.event("instrument.NOSUCH", outbox.BOOK, {})])

    relay.relay_streams([f"instrument.{instrument.symbol}", "instrument.NOSUCH"])

    assert "instrument.NOSUCH" not in sent
    assert state_of(sent[f"instrument.{instrument.symbol}"]) == {"book", "ticker"}
    assert not MarketEvent.objects.filter(stream="instrument.NOSUCH", published_at=None).exists()


def test_a_stream_whose_state_lock_is_held_is_left_to_the_holder(
    continuous_instrument, make_trader, sent, monkeypatch
):
    held, free = books_with_orders(continuous_instrument, make_trader, 2)
    held_stream = f"instrument.{held.symbol}"
    locked = relay._lock_cursors

    def lock_cursors(streams, *, skip_locked=False):
        cursors = locked(streams, skip_locked=skip_locked)
        if skip_locked:  # as if another relay held this one's state lock
            cursors.pop(relay.STATE_LOCK_PREFIX + held_stream, None)
        return cursors

    monkeypatch.setattr(relay, "_lock_cursors", lock_cursors)

    relay.relay_streams([held_stream, f"instrument.{free.symbol}"])

    assert not state_of(sent[held_stream])
    assert state_of(sent[f"instrument.{free.symbol}"]) == {"book", "ticker"}
    assert MarketEvent.objects.filter(
        stream=held_stream, published_at=None, type__in=outbox.MARKERS
    ).exists()
