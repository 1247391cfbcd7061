"""Call auctions through the service layer (MARKET_RULES 4 and 5): the worked examples, the
clock's catch-up, and on PostgreSQL an auction killed in the middle of its transaction."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from market import clock, locks
from market.models import (
    AuctionKind,
    AuctionRecord,
    AuditEvent,
    CashAccount,
    Instrument,
    LedgerKind,
    LedgerTransaction,
    Order,
    OrderStatus,
    Position,
    Trade,
    TradeKind,
)
from market.phases import Phase, instrument_phase
from market.services import auctions as auction_service
from market.services.auctions import auction_run, market_catch_up
from market.services.book import BookSession
from market.services.orders import order_place
from market.services.reconcile import reconcile
from tests.market.conftest import TRADING_DAY, market_time

pytestmark = pytest.mark.django_db

NEXT_DAY = date(2026, 11, 19)
DAY_AFTER = date(2026, 11, 20)


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


def cash(user) -> tuple[Decimal, Decimal]:
    account = CashAccount.objects.get(user=user)
    return account.balance_amount, account.reserved_amount


def holding(user, instrument) -> tuple[int, int, Decimal, Decimal]:
    position = Position.objects.get(user=user, instrument=instrument)
    return (
        position.quantity,
        position.reserved_quantity,
        position.cost_basis_amount,
        position.realized_pnl_amount,
    )


def state(order: Order) -> tuple[str, int, Decimal, Decimal]:
    order.refresh_from_db()
    return order.status, order.filled_quantity, order.reserved_amount, order.fees_paid


def book_snapshot(instrument: Instrument) -> list[tuple]:
    return list(
        Order.objects.filter(instrument=instrument)
        .order_by("pk")
        .values_list("pk", "status", "filled_quantity", "reserved_amount")
    )


def phase_of(instrument: Instrument) -> Phase:
    instrument.refresh_from_db()
    return instrument_phase(instrument)


def auctions() -> list[tuple[date, str]]:
    return list(AuctionRecord.objects.order_by("pk").values_list("trading_date", "kind"))


# --- the opening auction of a new listing ---------------------------------------------------


# 1: the orders that trade are loaded in chunks of one (a deep book's are loaded 5,000 a query).
@pytest.mark.parametrize("track_chunk", [auction_service.TRACK_CHUNK, 1])
def test_opening_auction_of_a_new_listing_uncrosses_at_one_price(
    travel, make_instrument, make_trader, monkeypatch, track_chunk
):
    monkeypatch.setattr(auction_service, "TRACK_CHUNK", track_chunk)
    travel("09:00")
    instrument = make_instrument(total_shares=1000, listing_price="100.00")
    owner = instrument.vehicle.owner
    high, early, late = (make_trader(cash="25000.00") for _ in range(3))
    ask = place(owner, instrument, "sell", 300, "98.00")
    high_bid = place(high, instrument, "buy", 200, "101.00")
    early_bid = place(early, instrument, "buy", 200, "99.50")
    late_bid = place(late, instrument, "buy", 100, "99.50")
    # 200 x 101.00 + 1% fee = 20,402.00 reserved.
    assert cash(high) == (Decimal("25000.00"), Decimal("20402.00"))

    travel("09:30")
    [record] = market_catch_up()

    # candidate   demand  supply  executable  surplus
    #   98.00       500     300      300       +200
    #   99.50       500     300      300       +200
    #  101.00       200     300      200       -100
    # 1. the most executable: 300 at 98.00 and at 99.50; 2. the same surplus, 200, at both;
    # 3. both surpluses are on the buy side: market pressure takes the highest, 99.50.
    # The bid at 101.00 fills first (price), then the bids at 99.50 in time order: the early
    # one fills 100 of 200 (the one partial fill, on the side with the surplus), the late none.
    assert (record.kind, record.trading_date, record.price, record.volume) == (
        AuctionKind.OPENING,
        TRADING_DAY,
        Decimal("99.50"),
        300,
    )
    assert (record.surplus, record.surplus_side) == (200, "buy")
    assert (record.reference_price, record.orders_count) == (Decimal("100.00"), 4)
    trades = list(
        Trade.objects.order_by("pk").values_list(
            "buy_order_id",
            "sell_order_id",
            "price",
            "quantity",
            "notional_amount",
            "buyer_fee_amount",
            "seller_fee_amount",
            "kind",
            "auction_id",
            "trading_date",
        )
    )
    # Fees: 1% of the notional each side, half-up: 199.00 on 19,900.00, 99.50 on 9,950.00.
    opening = (TradeKind.OPENING_AUCTION, record.pk, TRADING_DAY)
    assert trades == [
        (high_bid.pk, ask.pk, Decimal("99.50"), 200, Decimal("19900.00"), Decimal("199.00"), Decimal("199.00"), *opening),
        (early_bid.pk, ask.pk, Decimal("99.50"), 100, Decimal("9950.00"), Decimal("99.50"), Decimal("99.50"), *opening),
    ]  # fmt: skip
    assert state(ask) == (OrderStatus.FILLED, 300, Decimal("0.00"), Decimal("298.50"))
    assert state(high_bid) == (OrderStatus.FILLED, 200, Decimal("0.00"), Decimal("199.00"))
    # The rest of the early bid stays in the book for continuous trading, still reserved.
    assert state(early_bid) == (
        OrderStatus.PARTIALLY_FILLED,
        100,
        Decimal("10049.50"),
        Decimal("99.50"),
    )
    assert state(late_bid) == (OrderStatus.OPEN, 0, Decimal("10049.50"), Decimal("0.00"))
    # The higher limit gets its reservation difference back: it reserved 20,402.00 and paid
    # 19,900.00 + 199.00 = 20,099.00, so 303.00 (1.50 x 200 + its 1% fee) is free again.
    assert cash(high) == (Decimal("4901.00"), Decimal("0.00"))
    assert cash(early) == (Decimal("14950.50"), Decimal("10049.50"))
    assert cash(late) == (Decimal("25000.00"), Decimal("10049.50"))
    # The owner sold 300 of 1,000 shares bought at 100.00: 29,850.00 - 298.50 in fees, and
    # 29,551.50 - 30,000.00 of cost = -448.50 realized.
    assert cash(owner) == (Decimal("29551.50"), Decimal("0.00"))
    assert holding(owner, instrument) == (700, 0, Decimal("70000.00"), Decimal("-448.50"))
    assert holding(high, instrument) == (200, 0, Decimal("20099.00"), Decimal("0.00"))
    assert holding(early, instrument) == (100, 0, Decimal("10049.50"), Decimal("0.00"))
    instrument.refresh_from_db()
    assert instrument.last_price == Decimal("99.50")
    assert phase_of(instrument) == Phase.CONTINUOUS
    event = AuditEvent.objects.get(action="auction.opening")
    assert event.data["price"] == "99.50"
    assert event.data["auction_id"] == record.pk
    assert [str(found) for found in reconcile()] == []


def test_auction_fees_round_half_up_to_the_cent(travel, make_instrument, make_trader):
    travel("09:00")
    instrument = make_instrument()
    buyer = make_trader(cash="1000.00")
    place(instrument.vehicle.owner, instrument, "sell", 1, "98.50")
    place(buyer, instrument, "buy", 1, "98.50")

    travel("09:30")
    market_catch_up()

    # 1% of 98.50 is 0.985: half-up makes it 0.99 (half-even would give 0.98).
    trade = Trade.objects.get()
    assert (trade.buyer_fee_amount, trade.seller_fee_amount) == (Decimal("0.99"), Decimal("0.99"))
    assert cash(buyer) == (Decimal("900.51"), Decimal("0.00"))
    assert cash(instrument.vehicle.owner) == (Decimal("97.51"), Decimal("0.00"))
    assert [str(found) for found in reconcile()] == []


def test_market_orders_fill_first_and_their_rest_is_cancelled_after_the_auction(
    travel, make_instrument, make_trader
):
    travel("09:00")
    instrument = make_instrument(listing_price="100.00")
    owner = instrument.vehicle.owner
    limit_buyer = make_trader(cash="20000.00")
    market_buyer = make_trader(cash="20000.00")
    limit_bid = place(limit_buyer, instrument, "buy", 50, "105.00")
    # Placed later, but a market order is the most aggressive; it counts up to its
    # protection price, 100.00 x 1.10 = 110.00, and reserves 100 x 110.00 + 1%.
    market_bid = place(market_buyer, instrument, "buy", 100)
    assert market_bid.protection_price == Decimal("110.00")
    assert cash(market_buyer) == (Decimal("20000.00"), Decimal("11110.00"))
    ask = place(owner, instrument, "sell", 80, "100.00")

    travel("09:30")
    [record] = market_catch_up()

    # candidate  demand  supply  executable  surplus
    #  100.00      150      80       80        +70
    #  105.00      150      80       80        +70
    # Tied on volume and surplus, both buy surpluses: the highest, 105.00.
    assert (record.price, record.volume, record.surplus) == (Decimal("105.00"), 80, 70)
    trade = Trade.objects.get()
    assert (trade.buy_order_id, trade.sell_order_id, trade.quantity) == (market_bid.pk, ask.pk, 80)
    # The market order's unfilled 20 is cancelled and its reservation released.
    assert state(market_bid) == (OrderStatus.CANCELLED, 80, Decimal("0.00"), Decimal("84.00"))
    assert cash(market_buyer) == (Decimal("11516.00"), Decimal("0.00"))
    # The limit bid got nothing and stays in the book.
    assert state(limit_bid) == (OrderStatus.OPEN, 0, Decimal("5302.50"), Decimal("0.00"))
    assert [str(found) for found in reconcile()] == []


def test_no_cross_stores_an_empty_record_and_leaves_the_book(travel, make_instrument, make_trader):
    travel("09:00")
    instrument = make_instrument()
    buyer = make_trader(cash="20000.00")
    place(instrument.vehicle.owner, instrument, "sell", 100, "101.00")
    place(buyer, instrument, "buy", 100, "99.00")
    book_before = book_snapshot(instrument)
    cash_before = cash(buyer)

    travel("09:30")
    [record] = market_catch_up()

    assert (record.price, record.volume, record.surplus, record.surplus_side) == (None, 0, 0, None)
    assert record.orders_count == 2
    assert not Trade.objects.exists()
    assert book_snapshot(instrument) == book_before
    assert cash(buyer) == cash_before
    instrument.refresh_from_db()
    assert instrument.last_price is None
    # The auction ran: the instrument trades continuously now, and the book is intact.
    assert phase_of(instrument) == Phase.CONTINUOUS
    assert [str(found) for found in reconcile()] == []


def test_running_an_auction_twice_stores_one_record(travel, make_instrument, make_trader):
    travel("09:00")
    instrument = make_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 10, "100.00")
    place(make_trader(), instrument, "buy", 10, "100.00")
    travel("09:30")

    first = auction_run(instrument_id=instrument.pk, trading_date=TRADING_DAY, kind="opening")
    again = auction_run(instrument_id=instrument.pk, trading_date=TRADING_DAY, kind="opening")

    assert first is not None
    assert again == first
    assert AuctionRecord.objects.count() == 1
    assert Trade.objects.count() == 1
    assert market_catch_up() == []
    assert [str(found) for found in reconcile()] == []


# --- the closing auction --------------------------------------------------------------------


def test_closing_auction_uncrosses_then_day_orders_expire(
    continuous_instrument, make_trader, travel
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    buyer = make_trader(cash="20000.00")
    patient = make_trader(cash="20000.00")
    travel("15:56")
    assert phase_of(instrument) == Phase.CLOSING_CALL
    ask = place(owner, instrument, "sell", 100, "100.00")
    bid = place(buyer, instrument, "buy", 100, "100.00")
    assert not Trade.objects.exists(), "nothing matches in the closing call"
    day_bid = place(patient, instrument, "buy", 50, "90.00")
    gtc_bid = place(patient, instrument, "buy", 10, "90.00", time_in_force="gtc")
    gtc_ask = place(owner, instrument, "sell", 20, "120.00", time_in_force="gtc")

    travel("16:00")
    [record] = market_catch_up()

    assert (record.kind, record.trading_date) == (AuctionKind.CLOSING, TRADING_DAY)
    assert (record.price, record.volume, record.surplus) == (Decimal("100.00"), 100, 0)
    trade = Trade.objects.get()
    assert (trade.kind, trade.auction_id, trade.price) == (
        TradeKind.CLOSING_AUCTION,
        record.pk,
        Decimal("100.00"),
    )
    assert state(ask)[:2] == (OrderStatus.FILLED, 100)
    assert state(bid)[:2] == (OrderStatus.FILLED, 100)
    # The day order expires and frees its cash; good-till-cancelled orders stay, reserved.
    assert state(day_bid) == (OrderStatus.EXPIRED, 0, Decimal("0.00"), Decimal("0.00"))
    assert state(gtc_bid) == (OrderStatus.OPEN, 0, Decimal("909.00"), Decimal("0.00"))
    assert state(gtc_ask)[:2] == (OrderStatus.OPEN, 0)
    assert cash(patient) == (Decimal("20000.00"), Decimal("909.00"))
    assert holding(owner, instrument)[:2] == (900, 20)
    # The next day's pre-open has begun; the close does not run again.
    assert phase_of(instrument) == Phase.PRE_OPEN
    assert market_catch_up() == []
    assert [str(found) for found in reconcile()] == []


@pytest.mark.parametrize(
    ("age_days", "status"), [(89, OrderStatus.OPEN), (90, OrderStatus.EXPIRED)]
)
def test_gtc_order_ends_with_the_closing_auction_once_90_days_old(
    continuous_instrument, make_trader, travel, age_days, status
):
    instrument = continuous_instrument()
    buyer = make_trader(cash="20000.00")
    gtc_bid = place(buyer, instrument, "buy", 10, "90.00", time_in_force="gtc")
    Order.objects.filter(pk=gtc_bid.pk).update(trading_date=TRADING_DAY - timedelta(days=age_days))

    travel("16:00")
    market_catch_up()

    assert Order.objects.get(pk=gtc_bid.pk).status == status
    expected_reserved = Decimal("909.00") if status == OrderStatus.OPEN else Decimal("0.00")
    assert cash(buyer) == (Decimal("20000.00"), expected_reserved)
    assert [str(found) for found in reconcile()] == []


# --- the clock's catch-up -------------------------------------------------------------------


def test_missed_opening_runs_once_when_the_clock_catches_up(travel, make_instrument, make_trader):
    travel("09:00")
    instrument = make_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 10, "100.00")
    place(make_trader(), instrument, "buy", 10, "100.00")

    travel("10:15")  # nothing ran at 09:30
    assert phase_of(instrument) == Phase.PRE_OPEN, "still collecting until the auction runs"
    ran = market_catch_up()
    again = market_catch_up()

    assert [(record.kind, record.trading_date) for record in ran] == [
        (AuctionKind.OPENING, TRADING_DAY)
    ]
    assert again == []
    assert auctions() == [(TRADING_DAY, AuctionKind.OPENING)]
    assert Trade.objects.count() == 1
    assert phase_of(instrument) == Phase.CONTINUOUS
    assert [str(found) for found in reconcile()] == []


def test_a_day_missed_entirely_runs_the_last_closing_auction_once(
    continuous_instrument, make_trader, travel
):
    instrument = continuous_instrument()
    buyer = make_trader(cash="20000.00")
    day_bid = place(buyer, instrument, "buy", 10, "90.00")
    gtc_bid = place(buyer, instrument, "buy", 10, "91.00", time_in_force="gtc")

    # No clock from 10:00 on the 18th until 08:00 on the 20th: the 18th's close and all of
    # the 19th were missed.
    travel("08:00", DAY_AFTER)
    ran = market_catch_up()
    again = market_catch_up()

    assert [(record.kind, record.trading_date) for record in ran] == [
        (AuctionKind.CLOSING, NEXT_DAY)
    ]
    assert again == []
    assert auctions() == [(TRADING_DAY, AuctionKind.OPENING), (NEXT_DAY, AuctionKind.CLOSING)]
    assert state(day_bid)[0] == OrderStatus.EXPIRED
    assert state(gtc_bid)[0] == OrderStatus.OPEN
    assert phase_of(instrument) == Phase.PRE_OPEN

    travel("09:30", DAY_AFTER)
    assert [record.kind for record in market_catch_up()] == [AuctionKind.OPENING]
    assert phase_of(instrument) == Phase.CONTINUOUS
    assert [str(found) for found in reconcile()] == []


# --- PostgreSQL: an auction killed in the middle of its transaction ---------------------------
#
# The auction runs in a forked process and is SIGKILLed with its transaction open: once at a
# point the test holds it at (every row written, the commit not sent: deterministic), and once
# as soon as it starts writing (wherever it is then; it may also have committed just before).
# Hundreds of crossing orders give the writes a few hundred milliseconds; thousands would cost
# the suite a minute (the per-order bulk updates and the outbox relay grow faster than linearly).

BUY_ORDERS = 400
SELL_ORDERS = 400
WRITTEN_TABLES = {"market_auctionrecord", "market_trade", "market_ledgerentry", "market_order"}


def collect_orders(instrument: Instrument, specs: list[tuple[int, str, int, Decimal]]) -> None:
    """Orders (user id, side, quantity, limit) added to the pre-open book in one step, with the
    reservations the service layer makes (BookSession.reserve), in one step."""
    with transaction.atomic(durable=True):
        locked = locks.instrument_for_update(pk=instrument.pk)
        session = BookSession(locked, now=clock.now(), trading_date=TRADING_DAY)
        orders = Order.objects.bulk_create(
            [
                Order(
                    user_id=user_id,
                    instrument=locked,
                    side=side,
                    type="limit",
                    quantity=quantity,
                    price=price,
                    trading_date=TRADING_DAY,
                )
                for user_id, side, quantity, price in specs
            ]
        )
        session.track(orders)
        session.load_accounts({order.user_id for order in orders})
        for order in orders:
            session.reserve(order)
        session.flush()


def cents_price(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


@pytest.fixture
def crowded_opening(travel, make_instrument, make_trader, monkeypatch) -> Callable[[], Instrument]:
    """A new listing with hundreds of crossing orders waiting for its opening auction."""
    # What happens after the commit (publishing the real-time streams) is not under test here,
    # and publishing a thousand events after each step would be most of the test's time.
    try:
        from market import relay
    except ImportError:
        pass
    else:
        monkeypatch.setattr(relay, "relay_after_commit", lambda streams: None)

    def build() -> Instrument:
        travel("09:00")
        instrument = make_instrument(total_shares=100_000)
        owner = instrument.vehicle.owner
        buyers = [make_trader(cash="100000.00") for _ in range(10)]
        # Bids from 100.00 to 104.99, asks from 95.00 to 99.99: every order crosses.
        specs = [
            (buyers[n % len(buyers)].pk, "buy", 1 + n % 3, cents_price(10000 + n % 500))
            for n in range(BUY_ORDERS)
        ] + [(owner.pk, "sell", 1 + n % 3, cents_price(9500 + n % 500)) for n in range(SELL_ORDERS)]
        collect_orders(instrument, specs)
        assert [str(found) for found in reconcile()] == []
        return instrument

    return build


def _auction_in_child(instrument_id: int, pause_before_commit: bool, events) -> None:
    """The forked process: report the database backend, run the opening auction, and (when
    asked) hold its transaction open once the book's step is written, to be killed there."""
    connections.close_all()
    connection.ensure_connection()
    events.put(("backend", connection.connection.info.backend_pid))
    if pause_before_commit:
        flush = BookSession.flush

        def flush_then_hang(session: BookSession) -> None:
            flush(session)
            events.put(("written", None))
            time.sleep(60)

        BookSession.flush = flush_then_hang  # type: ignore[method-assign]
    auction_run(
        instrument_id=instrument_id,
        trading_date=TRADING_DAY,
        kind=AuctionKind.OPENING,
        now=market_time("09:30"),
    )
    connections.close_all()
    events.put(("committed", None))


def _locked_tables(backend_pid: int) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relation::regclass::text FROM pg_locks "
            "WHERE pid = %s AND mode = 'RowExclusiveLock' AND relation IS NOT NULL",
            [backend_pid],
        )
        return {name for (name,) in cursor.fetchall()}


def _wait_until_gone(backend_pid: int, seconds: float = 20) -> None:
    """The server notices the dead client and rolls its transaction back."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend_pid])
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"backend {backend_pid} still alive after {seconds} s")


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pause_before_commit", [True, False], ids=["all-written", "mid-write"])
def test_auction_killed_mid_transaction_leaves_nothing_and_runs_again(
    crowded_opening, pause_before_commit
):
    instrument = crowded_opening()
    book_before = book_snapshot(instrument)
    connections.close_all()
    context = multiprocessing.get_context("fork")
    events = context.Queue()
    child = context.Process(
        target=_auction_in_child, args=(instrument.pk, pause_before_commit, events)
    )
    child.start()
    try:
        kind, backend_pid = events.get(timeout=30)
        assert kind == "backend"
        if pause_before_commit:
            # Deterministic: the record, trades, ledger, orders and accounts are written, the
            # commit is not sent.
            assert events.get(timeout=60) == ("written", None)
            assert _locked_tables(backend_pid) >= WRITTEN_TABLES
        else:
            # Kill as soon as the auction record is inserted, while the trades are computed
            # and written: the transaction may still commit first, so either outcome is fine.
            deadline = time.monotonic() + 60
            while child.is_alive() and "market_auctionrecord" not in _locked_tables(backend_pid):
                assert time.monotonic() < deadline, "the auction never started writing"
        if child.is_alive():
            os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
        if pause_before_commit:
            assert child.exitcode == -signal.SIGKILL
        _wait_until_gone(backend_pid)
    finally:
        if child.is_alive():
            child.kill()
            child.join(timeout=10)

    # Either nothing of the auction or all of it; never half.
    records = AuctionRecord.objects.count()
    if pause_before_commit:
        assert records == 0
    if records == 0:
        assert not Trade.objects.exists()
        assert not LedgerTransaction.objects.filter(kind=LedgerKind.TRADE).exists()
        assert not AuditEvent.objects.filter(action="auction.opening").exists()
        assert book_snapshot(instrument) == book_before
    assert [str(found) for found in reconcile()] == []

    record = auction_run(
        instrument_id=instrument.pk,
        trading_date=TRADING_DAY,
        kind=AuctionKind.OPENING,
        now=market_time("09:30"),
    )

    assert record is not None
    assert record.volume > 0
    assert AuctionRecord.objects.count() == 1
    assert sum(Trade.objects.values_list("quantity", flat=True)) == record.volume
    assert set(Trade.objects.values_list("auction_id", flat=True)) == {record.pk}
    assert [str(found) for found in reconcile()] == []
