"""Market selectors: ticker arithmetic across trading days, and pinned query counts."""

import random
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q

from market import clock, selectors
from market.calendar import get_calendar
from market.engine import uncross, uncross_at
from market.models import AuctionKind, Trade
from market.services.auctions import auction_run
from market.services.orders import order_place
from tests.market.conftest import TRADING_DAY

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


def trade(instrument, seller, buyer, quantity, price):
    place(seller, instrument, "sell", quantity, price)
    place(buyer, instrument, "buy", quantity, price)


def open_day(instrument, travel, day, hhmm="10:00"):
    travel(hhmm, day)
    auction_run(instrument_id=instrument.pk, trading_date=day, kind=AuctionKind.OPENING)


def close_day(instrument, travel, day):
    travel("16:00", day)
    auction_run(instrument_id=instrument.pk, trading_date=day, kind=AuctionKind.CLOSING)


@pytest.fixture
def traded(continuous_instrument, make_trader):
    """An instrument in continuous trading, its owner (the seller) and a buyer with cash."""
    instrument = continuous_instrument()
    return instrument, instrument.vehicle.owner, make_trader(cash="100000.00")


def test_ticker_has_exactly_the_contract_fields_plus_name_and_reference_price(traded):
    instrument, _, _ = traded

    ticker = selectors.ticker_get(instrument)

    assert set(ticker) == set(selectors.TICKER_FIELDS)
    assert {"name", "reference_price"} <= set(ticker)
    assert len(ticker) == 19


def test_previous_close_is_the_listing_price_before_any_trade(traded):
    instrument, _, _ = traded

    ticker = selectors.ticker_get(instrument)

    assert (ticker["previous_close"], ticker["last_price"], ticker["change"]) == (
        Decimal("100.00"),
        None,
        None,
    )


def test_previous_close_is_the_last_closing_auction_and_change_is_measured_from_it(traded, travel):
    instrument, seller, buyer = traded
    place(seller, instrument, "sell", 10, "105.00")
    travel("15:56")
    place(buyer, instrument, "buy", 10, "105.00")
    close_day(instrument, travel, TRADING_DAY)
    open_day(instrument, travel, NEXT_DAY)
    before = selectors.ticker_get(instrument)

    trade(instrument, seller, buyer, 10, "110.00")
    after = selectors.ticker_get(instrument)

    assert (before["previous_close"], before["change"], before["volume"], before["open"]) == (
        Decimal("105.00"),
        Decimal("0.00"),
        0,
        None,
    )
    assert (after["previous_close"], after["last_price"], after["change"]) == (
        Decimal("105.00"),
        Decimal("110.00"),
        Decimal("5.00"),
    )
    assert (after["change_percent"], after["open"], after["volume"]) == (
        Decimal("4.76"),
        Decimal("110.00"),
        10,
    )


def test_previous_close_without_a_crossing_closing_auction_is_the_last_trade(traded, travel):
    instrument, seller, buyer = traded
    trade(instrument, seller, buyer, 5, "104.00")
    close_day(instrument, travel, TRADING_DAY)  # nothing to cross
    open_day(instrument, travel, NEXT_DAY)

    ticker = selectors.ticker_get(instrument)

    assert ticker["previous_close"] == Decimal("104.00")


def test_an_older_closing_auction_does_not_hide_later_trades(traded, travel):
    instrument, seller, buyer = traded
    place(seller, instrument, "sell", 10, "105.00")
    travel("15:56")
    place(buyer, instrument, "buy", 10, "105.00")
    close_day(instrument, travel, TRADING_DAY)  # crosses at 105
    open_day(instrument, travel, NEXT_DAY)
    trade(instrument, seller, buyer, 10, "110.00")
    close_day(instrument, travel, NEXT_DAY)  # nothing to cross
    open_day(instrument, travel, DAY_AFTER)

    ticker = selectors.ticker_get(instrument)

    assert ticker["previous_close"] == Decimal("110.00")


def test_a_trade_after_the_close_belongs_to_the_next_trading_date(traded, travel):
    instrument, seller, buyer = traded
    trade(instrument, seller, buyer, 5, "104.00")
    close_day(instrument, travel, TRADING_DAY)
    travel("17:00")

    ticker = selectors.ticker_get(instrument)

    assert (ticker["phase"], ticker["previous_close"], ticker["volume"]) == (
        "pre_open",
        Decimal("104.00"),
        0,
    )


def test_ticker_counts_one_query_in_continuous_trading(traded, django_assert_num_queries):
    instrument, seller, buyer = traded
    trade(instrument, seller, buyer, 5, "104.00")
    place(seller, instrument, "sell", 5, "106.00")

    with django_assert_num_queries(1):
        selectors.ticker_get(instrument)


def test_ticker_counts_two_queries_in_a_call_phase(
    make_instrument, make_trader, travel, django_assert_num_queries
):
    travel("09:00")
    instrument = make_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 5, "100.00")
    place(make_trader(), instrument, "buy", 5, "101.00")

    with django_assert_num_queries(2):
        ticker = selectors.ticker_get(instrument)

    assert (ticker["indicative_price"], ticker["indicative_volume"]) == (Decimal("100.00"), 5)


def test_indicative_auction_read_by_price_level_is_the_auction_of_the_orders(
    make_instrument, make_trader, travel
):
    travel("09:00")
    instrument = make_instrument()
    owner, buyers = instrument.vehicle.owner, [make_trader() for _ in range(3)]
    rng = random.Random(5)
    for _ in range(40):
        price = f"{rng.randint(97, 103)}.{rng.choice(['00', '50'])}"
        if rng.random() < 0.5:
            place(
                owner, instrument, "sell", rng.randint(1, 9), None if rng.random() < 0.1 else price
            )
        else:
            place(
                rng.choice(buyers),
                instrument,
                "buy",
                rng.randint(1, 9),
                None if rng.random() < 0.1 else price,
            )

    ticker = selectors.ticker_get(instrument)
    every_order = Q(pk__isnull=False)
    collected = selectors.auction_orders(instrument.pk, price=None, ending=every_order)
    auction = uncross([order for order, _ in collected], instrument.reference_price)
    book = selectors.book_levels([instrument.pk])[instrument.pk]

    assert len(collected) == book.orders == 40
    assert auction.volume > 0
    assert (ticker["indicative_price"], ticker["indicative_volume"]) == (
        auction.price,
        auction.volume,
    )
    # What auction_run reads at that price: the orders that accept it and the market orders.
    involved = selectors.auction_orders(instrument.pk, price=auction.price, ending=Q(pk=None))
    assert len(involved) < len(collected)
    assert all(
        order.price is None
        or (order.price >= auction.price if order.side == "buy" else order.price <= auction.price)
        for order, _ in involved
    )
    assert not any(facts.ends for _, facts in involved)
    assert uncross_at([order for order, _ in involved], auction.price) == auction


@pytest.mark.parametrize("count", [1, 4])
def test_instruments_with_tickers_count_queries_independent_of_instruments(
    make_instrument, make_trader, travel, django_assert_num_queries, count
):
    travel("09:00")
    buyer = make_trader()
    for _ in range(count):
        instrument = make_instrument()
        place(instrument.vehicle.owner, instrument, "sell", 5, "100.00")
        place(buyer, instrument, "buy", 5, "99.00")

    with django_assert_num_queries(2):
        rows = selectors.instruments_with_tickers()

    assert len(rows) == count


def test_instruments_list_endpoint_counts_queries_independent_of_instruments(
    make_instrument, travel, django_assert_num_queries, client
):
    travel("09:00")
    for _ in range(3):
        make_instrument()

    with django_assert_num_queries(2):
        response = client.get("/api/v1/instruments/")

    assert len(response.json()) == 3


def test_book_depth_counts_one_query(traded, make_trader, django_assert_num_queries):
    instrument, seller, _ = traded
    for price in ("101.00", "102.00", "103.00"):
        place(seller, instrument, "sell", 2, price)
    for price in ("97.00", "98.00"):
        place(make_trader(), instrument, "buy", 2, price)

    with django_assert_num_queries(1):
        book = selectors.book_depth(instrument, depth=2)

    assert [level["price"] for level in book["asks"]] == [Decimal("101.00"), Decimal("102.00")]
    assert [level["price"] for level in book["bids"]] == [Decimal("98.00"), Decimal("97.00")]


def test_book_depths_of_several_instruments_take_one_query_and_keep_each_book_apart(
    continuous_instrument, make_trader, django_assert_num_queries
):
    first, second, empty = (continuous_instrument() for _ in range(3))
    buyer = make_trader(cash="100000.00")
    for price, quantity in (("101.25", 2), ("102.00", 3), ("101.25", 4), ("104.00", 1)):
        place(first.vehicle.owner, first, "sell", quantity, price)
    for price in ("97.00", "99.50", "98.00"):
        place(buyer, first, "buy", 5, price)
    place(buyer, second, "buy", 7, "95.10")

    with django_assert_num_queries(1):
        books = selectors.book_depths([first.pk, second.pk, empty.pk], depth=2)

    def levels(side):
        return [(level["price"], level["quantity"], level["orders"]) for level in side]

    assert levels(books[first.pk]["asks"]) == [(Decimal("101.25"), 6, 2), (Decimal("102.00"), 3, 1)]
    assert levels(books[first.pk]["bids"]) == [(Decimal("99.50"), 5, 1), (Decimal("98.00"), 5, 1)]
    assert books[second.pk] == {
        "bids": [{"price": Decimal("95.10"), "quantity": 7, "orders": 1}],
        "asks": [],
    }
    assert books[empty.pk] == {"bids": [], "asks": []}
    assert selectors.book_depths([]) == {}


def test_tickers_by_symbol_take_one_query_and_leave_out_unknown_symbols(
    continuous_instrument, django_assert_num_queries
):
    first, second = continuous_instrument(), continuous_instrument()

    with django_assert_num_queries(1):
        tickers = selectors.tickers_by_symbol([second.symbol, first.symbol, "NOSUCH"])

    assert set(tickers) == {first.symbol, second.symbol}
    assert tickers[first.symbol]["id"] == first.pk
    assert {field: tickers[first.symbol][field] for field in selectors.TICKER_FIELDS} == (
        selectors.ticker_get(first)
    )
    assert selectors.tickers_by_symbol([]) == {}


def test_book_depth_leaves_out_market_orders_waiting_for_the_auction(
    make_instrument, make_trader, travel
):
    travel("09:00")
    instrument = make_instrument()
    place(make_trader(), instrument, "buy", 5)

    assert selectors.book_depth(instrument) == {"bids": [], "asks": []}


def test_portfolio_counts_two_queries_for_any_number_of_positions(
    continuous_instrument, make_trader, django_assert_num_queries
):
    buyer = make_trader(cash="100000.00")
    for _ in range(3):
        instrument = continuous_instrument()
        trade(instrument, instrument.vehicle.owner, buyer, 5, "101.00")

    with django_assert_num_queries(2):
        portfolio = selectors.portfolio_get(buyer)

    assert len(portfolio["positions"]) == 3
    assert portfolio["totals"]["market_value"] == Decimal("1515.00")


def test_account_summary_counts_two_queries(traded, django_assert_num_queries):
    _, seller, _ = traded

    with django_assert_num_queries(2):
        summary = selectors.account_summary(seller)

    assert summary["equity"] == Decimal("100000.00")


def test_portfolio_keeps_a_sold_out_position_for_its_realized_pnl(traded, make_trader):
    instrument, seller, buyer = traded
    trade(instrument, seller, buyer, 10, "100.00")
    trade(instrument, buyer, make_trader(cash="10000.00"), 10, "110.00")

    portfolio = selectors.portfolio_get(buyer)

    [position] = portfolio["positions"]
    assert (position["quantity"], position["realized_pnl"]) == (0, Decimal("79.00"))
    assert position["unrealized_pnl_percent"] is None


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        ("5", "105", Decimal("4.76")),
        ("-53.50", "5403.50", Decimal("-0.99")),
        ("1", "3", Decimal("33.33")),
        ("2", "3", Decimal("66.67")),
        ("1", "0", None),
    ],
)
def test_percent_is_rounded_half_up_to_two_places(part, whole, expected):
    assert selectors.percent(Decimal(part), Decimal(whole)) == expected


def test_bars_are_the_trades_bucketed_by_minute_in_trade_order(
    continuous_instrument, make_trader, travel
):
    # The database groups the trades; here the same bars come from the trades one by one.
    rng = random.Random(7)
    instrument = continuous_instrument()
    owner, buyer = instrument.vehicle.owner, make_trader(cash="100000.00")
    for second in sorted(rng.sample(range(0, 6 * 60), 24)):
        travel(f"10:{second // 60:02d}:{second % 60:02d}")
        for _ in range(rng.randint(1, 3)):
            trade(
                instrument,
                owner,
                buyer,
                rng.randint(1, 5),
                f"{rng.randint(95, 105)}.{rng.randint(0, 99):02d}",
            )
    travel("10:06:30")

    expected: dict = {}
    trades = Trade.objects.filter(instrument=instrument).order_by("executed_at", "pk")
    for row in trades:
        minute = get_calendar().localize(row.executed_at).replace(second=0, microsecond=0)
        bar = expected.setdefault(
            minute,
            {"time": minute, "open": row.price, "high": row.price, "low": row.price, "volume": 0},
        )
        bar.update(high=max(bar["high"], row.price), low=min(bar["low"], row.price))
        bar.update(close=row.price, volume=bar["volume"] + row.quantity)

    bars = selectors.bars(instrument, minutes=5, now=clock.now())

    assert len(trades) > 30
    assert bars == [bar for minute, bar in sorted(expected.items()) if minute.minute >= 2]


def test_the_compiled_ticker_query_reads_what_the_orm_reads(
    continuous_instrument, make_instrument, make_trader, travel, monkeypatch
):
    # PostgreSQL runs the ticker query compiled once, without the ORM's converters; SQLite
    # (and this comparison) through the ORM. Both must give the same tickers.
    if connection.vendor != "postgresql":
        pytest.skip("the compiled ticker query runs on PostgreSQL")
    first = continuous_instrument()
    make_instrument()  # listed, never traded
    buyer = make_trader(cash="10000.00")
    trade(first, first.vehicle.owner, buyer, 3, "101.50")
    place(first.vehicle.owner, first, "sell", 2, "103.00")
    place(buyer, first, "buy", 4, "99.25")

    def read():
        return (
            selectors.instruments_with_tickers(),
            selectors.ticker_get(first),
            selectors.instrument_ticker_get(symbol=first.symbol.lower()),
            selectors.tickers_by_symbol([first.symbol, "NOSUCH"]),
        )

    compiled = read()
    monkeypatch.setattr(connection, "vendor", "sqlite")
    through_orm = read()

    assert compiled == through_orm
    assert compiled[1]["best_bid"] == Decimal("99.25")
    assert compiled[1]["volume"] == 3
