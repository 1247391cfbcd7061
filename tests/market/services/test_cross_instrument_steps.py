"""One step for the pending commands of several instruments (`book_execute_many`, through the
sequencer's `run_book_batch`): they share the traders' cash and one write, each book matches
on its own, and an instrument another transaction holds is left out, not waited for."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from market.broadcast import instrument_stream
from market.errors import InstrumentNotFound, InsufficientCash, OrderNotFound
from market.models import Instrument, MarketEvent, OrderStatus, Position, Trade
from market.services.book import BookSession
from market.services.orders import CancelOrder, book_execute_many
from market.services.reconcile import reconcile
from market.services.sequencer import NOT_RUN, run_book_batch
from tests.market.services.commands import buy, cash, sell


def locked(*instruments: Instrument) -> list[Instrument]:
    return [Instrument.objects.select_for_update().get(pk=item.pk) for item in instruments]


@pytest.mark.django_db
def test_two_books_trade_in_one_step_on_the_cash_of_one_account(continuous_instrument, make_trader):
    first, second = continuous_instrument(), continuous_instrument()
    buyer = make_trader(cash="600.00")

    with transaction.atomic():
        results = book_execute_many(
            [
                (
                    locked(first)[0],
                    [sell(first.vehicle.owner, "100.00", 5), buy(buyer, "100.00", 5)],
                ),
                (
                    locked(second)[0],
                    [sell(second.vehicle.owner, "100.00", 5), buy(buyer, "100.00", 5)],
                ),
            ]
        )

    [[_, bought], [_, refused]] = results
    assert bought.status == OrderStatus.FILLED
    # The second book sees what the first did to the account: $505.00 spent, $95.00 left.
    assert isinstance(refused, InsufficientCash)
    assert refused.detail == "Insufficient cash: the order needs $505.00 but $95.00 is available."
    assert cash(buyer) == (Decimal("95.00"), Decimal("0.00"))
    assert Position.objects.get(user=buyer, instrument=first).quantity == 5
    assert not Position.objects.filter(user=buyer, instrument=second).exists()
    assert Trade.objects.get().instrument_id == first.pk
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.last_price, second.last_price) == (Decimal("100.00"), None)
    # Each book's stream has its own events: the first traded, the second's book changed.
    streams = set(MarketEvent.objects.values_list("stream", "type"))
    traded, quoted = instrument_stream(first.symbol), instrument_stream(second.symbol)
    assert {(traded, "trade"), (traded, "book"), (quoted, "book")} <= streams
    assert (quoted, "trade") not in streams
    assert reconcile() == []


@pytest.mark.django_db
def test_a_sell_on_one_book_does_not_make_a_buy_on_another_a_self_trade(
    continuous_instrument, make_trader
):
    owner = make_trader(cash="1000.00")
    first, second = continuous_instrument(owner=owner), continuous_instrument()
    run_book_batch([(second.symbol, sell(second.vehicle.owner, "100.00", 5))])

    # The owner offers on the first book, then buys on the second, at a price its own offer
    # would cross were both on one book.
    offered, bought = run_book_batch(
        [(first.symbol, sell(owner, "90.00", 5)), (second.symbol, buy(owner, "100.00", 5))]
    )

    assert offered.status == OrderStatus.OPEN
    assert bought.status == OrderStatus.FILLED
    assert reconcile() == []


@pytest.mark.django_db
def test_an_unknown_instrument_refuses_only_its_own_commands(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    buyer = make_trader(cash="1000.00")

    unknown, placed = run_book_batch(
        [("NOPE", buy(buyer, "100.00", 1)), (instrument.symbol, buy(buyer, "100.00", 1))]
    )

    assert isinstance(unknown, InstrumentNotFound)
    assert placed.status == OrderStatus.OPEN


@pytest.mark.django_db
def test_each_book_of_a_step_trades_in_its_own_phase(
    continuous_instrument, make_instrument, make_trader
):
    trading = continuous_instrument()  # opened at 09:30; the clock is at 10:00
    listed = make_instrument()  # listed after the open: it waits for the next opening auction
    buyer = make_trader(cash="2000.00")

    traded_sell, traded_buy, resting_sell, resting_buy = run_book_batch(
        [
            (trading.symbol, sell(trading.vehicle.owner, "100.00", 5)),
            (trading.symbol, buy(buyer, "100.00", 5)),
            (listed.symbol, sell(listed.vehicle.owner, "100.00", 5)),
            (listed.symbol, buy(buyer, "100.00", 5)),
        ]
    )

    assert (traded_sell.status, traded_buy.status) == (OrderStatus.FILLED, OrderStatus.FILLED)
    # Crossing, but collected for the auction, not matched.
    assert (resting_sell.status, resting_buy.status) == (OrderStatus.OPEN, OrderStatus.OPEN)
    assert list(Trade.objects.values_list("instrument_id", flat=True)) == [trading.pk]


@pytest.mark.django_db
def test_a_cancel_sent_for_another_instrument_finds_no_order(continuous_instrument, make_trader):
    first, second = continuous_instrument(), continuous_instrument()
    buyer = make_trader(cash="1000.00")
    [order] = run_book_batch([(first.symbol, buy(buyer, "99.00", 1))])

    # Both instruments are in the step, but the cancel names the order under the second.
    placed, refused = run_book_batch(
        [
            (first.symbol, buy(buyer, "98.00", 1)),
            (second.symbol, CancelOrder(user_id=buyer.pk, order_id=order.pk)),
        ]
    )

    assert placed.status == OrderStatus.OPEN
    assert isinstance(refused, OrderNotFound)
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN
    assert reconcile() == []


@pytest.mark.django_db
def test_a_step_loads_only_the_positions_its_commands_and_reachable_orders_can_touch(
    continuous_instrument, make_trader, monkeypatch
):
    first, second, third = (continuous_instrument() for _ in range(3))
    trader, other = make_trader(cash="5000.00"), make_trader(cash="5000.00")
    # The trader holds two shares of each; `other` two of the first and of the second.
    for instrument, buyers in (
        (first, [trader, other]),
        (second, [trader, other]),
        (third, [trader]),
    ):
        owner = instrument.vehicle.owner
        run_book_batch(
            [(instrument.symbol, sell(owner, "100.00", 2 * len(buyers)))]
            + [(instrument.symbol, buy(buyer, "100.00", 2)) for buyer in buyers]
        )
    [resting] = run_book_batch([(second.symbol, sell(other, "101.00", 2))])
    loaded: list[set[tuple[int, int]]] = []
    load = BookSession.load_accounts

    def spy(session, user_ids, **kwargs):
        load(session, user_ids, **kwargs)
        loaded.append(set(session.positions))

    monkeypatch.setattr(BookSession, "load_accounts", spy)

    # The trader sells on the first book and buys `other`'s offer on the second.
    sold, bought = run_book_batch(
        [(first.symbol, sell(trader, "120.00", 1)), (second.symbol, buy(trader, "101.00", 2))]
    )

    assert loaded == [{(first.pk, trader.pk), (second.pk, trader.pk), (second.pk, other.pk)}]
    assert sold.status == OrderStatus.OPEN
    assert bought.status == OrderStatus.FILLED
    held = dict(Position.objects.filter(user=trader).values_list("instrument_id", "quantity"))
    assert held == {first.pk: 2, second.pk: 4, third.pk: 2}
    assert Position.objects.get(user=other, instrument=second).quantity == 0
    resting.refresh_from_db()
    assert resting.status == OrderStatus.FILLED
    assert reconcile() == []


# Below, another transaction really holds an instrument's lock: PostgreSQL.


@pytest.fixture
def holding():
    """Hold the named instrument's row lock in a transaction of its own, on another thread and
    connection, until the test lets it go."""
    threads: list[tuple[threading.Thread, threading.Event]] = []

    def hold(instrument: Instrument) -> threading.Event:
        taken, release = threading.Event(), threading.Event()

        def run() -> None:
            try:
                with transaction.atomic():
                    locked(instrument)
                    taken.set()
                    release.wait(timeout=30)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        assert taken.wait(timeout=30)
        threads.append((thread, release))
        return release

    yield hold
    for thread, release in threads:
        release.set()
        thread.join(timeout=30)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_instrument_another_step_holds_is_left_out_and_the_others_run(
    continuous_instrument, make_trader, holding
):
    busy, free = continuous_instrument(), continuous_instrument()
    buyer = make_trader(cash="1000.00")
    holding(busy)

    left_out, placed = run_book_batch(
        [(busy.symbol, buy(buyer, "100.00", 1)), (free.symbol, buy(buyer, "100.00", 1))],
        wait_for_first=False,
    )

    assert left_out is NOT_RUN
    assert placed.status == OrderStatus.OPEN
    # Nothing of the left-out command was written or reserved.
    assert cash(buyer) == (Decimal("1000.00"), Decimal("101.00"))
    assert not busy.orders.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_step_that_must_wait_for_an_instrument_runs_once_it_is_free(
    continuous_instrument, make_trader, holding
):
    busy = continuous_instrument()
    buyer = make_trader(cash="1000.00")
    release = holding(busy)
    threading.Timer(0.2, release.set).start()

    [placed] = run_book_batch([(busy.symbol, buy(buyer, "100.00", 1))], wait_for_first=True)

    assert placed.status == OrderStatus.OPEN
    assert release.is_set()
