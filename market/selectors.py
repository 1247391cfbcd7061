"""Reads for the market: tickers, book depth, trades, bars, auctions, orders, accounts, portfolios.

Each selector names the queries it makes; tests pin the counts so that an N+1 cannot creep in.
Money comes back as Decimal quantized to the cent (percentages to two places), never as a float.
Amounts are added up in Python, not in SQL: SQLite would sum decimals as floats.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    RowRange,
    Subquery,
    Sum,
    Window,
)
from django.db.models.functions import FirstValue, LastValue, TruncMinute

from market import clock
from market.calendar import get_calendar
from market.engine import Order as EngineOrder
from market.engine import indicative
from market.errors import InstrumentNotFound, OrderNotFound
from market.models import (
    OPEN_STATUSES,
    AuctionKind,
    AuctionRecord,
    CashAccount,
    CashAccountKind,
    Instrument,
    LedgerEntry,
    Order,
    OrderStatus,
    Position,
    Side,
    TimeInForce,
    Trade,
)
from market.money import ZERO, cents
from market.phases import CALL_PHASES, instrument_phase, trading_date_at
from market.services.bulk import sql_in
from vehicles.models import Vehicle

HUNDRED = Decimal(100)
PERCENT = Decimal("0.01")

# The section-10 ticker, plus the vehicle's name and the reference price.
TICKER_FIELDS = (
    "symbol",
    "name",
    "phase",
    "reference_price",
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
)

# Listed with the ticker in the instrument endpoints.
INSTRUMENT_FIELDS = (
    "id",
    "vehicle_id",
    "status",
    "total_shares",
    "listing_price",
    "first_trading_date",
)


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a percentage of `whole`, to two places; None when `whole` is zero."""
    if not whole:
        return None
    return (part * HUNDRED / whole).quantize(PERCENT, rounding=ROUND_HALF_UP)


# --- tickers --------------------------------------------------------------------------------


def ticker_get(instrument: Instrument) -> dict[str, Any]:
    """The instrument's ticker: 1 query, 2 in a call phase (the orders for the indicative
    auction). Reads the instrument afresh, so its status and last price are current."""
    [row] = _tickers("pk", instrument.pk)
    return {field: row[field] for field in TICKER_FIELDS}


def instrument_ticker_get(*, symbol: str) -> dict[str, Any]:
    """One instrument's facts and ticker, by symbol: 1 query, 2 in a call phase.
    Raises InstrumentNotFound."""
    rows = _tickers("symbol", symbol.strip().upper())
    if not rows:
        raise InstrumentNotFound(symbol=symbol)
    return rows[0]


def tickers_by_symbol(symbols: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The facts and tickers of the instruments with these symbols (exact), by symbol; unknown
    symbols are left out: 1 query, 2 when any is in a call phase, whatever the number."""
    wanted = sorted(set(symbols))
    return {row["symbol"]: row for row in _tickers("symbol__in", wanted)} if wanted else {}


def instruments_with_tickers() -> list[dict[str, Any]]:
    """Every instrument with its facts and ticker, by symbol: 1 query, 2 when any is in a call
    phase, whatever the number of instruments."""
    return _tickers()


def instrument_get(*, symbol: str) -> Instrument:
    """One instrument by symbol (any case): 1 query. Raises InstrumentNotFound."""
    instrument = Instrument.objects.filter(symbol=symbol.strip().upper()).first()
    if instrument is None:
        raise InstrumentNotFound(symbol=symbol)
    return instrument


def _tickers(by: str | None = None, value: object = None) -> list[dict[str, Any]]:
    """The tickers of every instrument, or of those whose field `by` ("pk", "symbol") is
    `value`, or whose symbol is in the list `value` (`by` "symbol__in")."""
    now = clock.now()
    today = trading_date_at(now)
    rows: list[Any]
    if connection.vendor == "postgresql":
        sql, params, at = _ticker_sql(today, by)
        if at is not None:
            params = [*params[:at], value, *params[at + 1 :]]
        rows = list(Instrument.objects.raw(sql, params))
    else:
        instruments = _instruments_with_ticker_columns(today)
        rows = list(instruments.all() if by is None else instruments.filter(**{by: value}))
    phases = {
        row.pk: instrument_phase(row, now=now, auction_kinds=_auction_kinds_today(row))
        for row in rows
    }
    calling = [row for row in rows if phases[row.pk] in CALL_PHASES]
    indicative = _indicative_auctions(calling)
    return [_ticker_row(row, phases[row.pk], indicative.get(row.pk)) for row in rows]


_SENTINELS: dict[str, object] = {"pk": -7_000_000_001, "symbol": "\x00ticker-symbol"}


@functools.lru_cache(maxsize=8)
def _ticker_sql(today: date, by: str | None) -> tuple[str, list[Any], int | None]:
    """PostgreSQL: the ticker query compiled once a day per process and filter, with the index
    of the filter's parameter (compiling it was half its remaining cost). Its rows come back
    as Decimals, dates and integers without the ORM's converters, which SQLite would need."""
    instruments = _instruments_with_ticker_columns(today)
    if by == "symbol__in":
        # The list as one array parameter; PostgreSQL pulls the filter into the subquery.
        sql, params = instruments.query.sql_with_params()
        wrapped = f'SELECT * FROM ({sql}) AS ticker WHERE ticker."symbol" = ANY(%s)'  # noqa: S608
        return wrapped, [*params, None], len(params)
    if by is not None:
        instruments = instruments.filter(**{by: _SENTINELS[by]})
    sql, params = instruments.query.sql_with_params()
    at = None
    if by is not None:
        [at] = [n for n, param in enumerate(params) if param == _SENTINELS[by]]
    return sql, list(params), at


@functools.lru_cache(maxsize=2)
def _instruments_with_ticker_columns(today: date) -> QuerySet[Instrument]:
    """Built once a day per process: building its fourteen subqueries cost as much as running
    the query (make bench, the vehicle page and the relay's ticker). Never evaluated itself, only
    filtered into new querysets, so threads can share it."""
    return _with_ticker_columns(Instrument.objects.all(), today).annotate(
        vehicle_year=F("vehicle__year"),
        vehicle_make=F("vehicle__make"),
        vehicle_model=F("vehicle__model"),
    )


def _with_ticker_columns(instruments: QuerySet[Instrument], today: date) -> QuerySet[Instrument]:
    """One query: today's open, high, low and volume, the previous close's candidates, the best
    bid and ask with their sizes, and which of today's auctions have run, as subqueries."""
    trades_today = Trade.objects.filter(instrument=OuterRef("pk"), trading_date=today).order_by()
    trades_before = Trade.objects.filter(instrument=OuterRef("pk"), trading_date__lt=today)
    closing_before = AuctionRecord.objects.filter(
        instrument=OuterRef("pk"),
        kind=AuctionKind.CLOSING,
        trading_date__lt=today,
        volume__gt=0,
        price__isnull=False,
    ).order_by("-trading_date", "-pk")
    auctions_today = AuctionRecord.objects.filter(instrument=OuterRef("pk"), trading_date=today)

    def grouped(queryset: QuerySet[Any], **aggregate: Any) -> Subquery:
        [name] = aggregate
        return Subquery(queryset.values("instrument").annotate(**aggregate).values(name)[:1])

    def resting(side: str) -> QuerySet[Order]:
        # Limit orders only: market orders waiting for an auction have no level.
        return Order.objects.filter(
            instrument=OuterRef("pk"), side=side, status__in=OPEN_STATUSES, price__isnull=False
        ).order_by()

    def size_at(side: str, best: str) -> Subquery:
        level = Order.objects.filter(
            instrument=OuterRef("pk"),
            side=side,
            status__in=OPEN_STATUSES,
            price=OuterRef(best),
        ).order_by()
        return grouped(level, size=Sum(F("quantity") - F("filled_quantity")))

    return instruments.annotate(
        today_open=Subquery(trades_today.order_by("executed_at", "pk").values("price")[:1]),
        today_high=grouped(trades_today, high=Max("price")),
        today_low=grouped(trades_today, low=Min("price")),
        today_volume=grouped(trades_today, volume=Sum("quantity")),
        close_auction_price=Subquery(closing_before.values("price")[:1]),
        close_auction_date=Subquery(closing_before.values("trading_date")[:1]),
        trade_before_price=Subquery(
            trades_before.order_by("-trading_date", "-executed_at", "-pk").values("price")[:1]
        ),
        trade_before_date=Subquery(
            trades_before.order_by("-trading_date", "-executed_at", "-pk").values("trading_date")[
                :1
            ]
        ),
        best_bid=Subquery(resting(Side.BUY).order_by("-price").values("price")[:1]),
        best_ask=Subquery(resting(Side.SELL).order_by("price").values("price")[:1]),
        has_opened_today=Exists(auctions_today.filter(kind=AuctionKind.OPENING)),
        has_closed_today=Exists(auctions_today.filter(kind=AuctionKind.CLOSING)),
    ).annotate(
        best_bid_quantity=size_at(Side.BUY, "best_bid"),
        best_ask_quantity=size_at(Side.SELL, "best_ask"),
    )


def _auction_kinds_today(row: Any) -> set[str]:
    kinds = set()
    if row.has_opened_today:
        kinds.add(AuctionKind.OPENING.value)
    if row.has_closed_today:
        kinds.add(AuctionKind.CLOSING.value)
    return kinds


def _previous_close(row: Any) -> Decimal:
    """The last closing auction price before today with volume, unless trades came after it
    (a later day's closing auction did not cross: that day's last trade is its close, as
    MARKET_RULES 7 says); else the last trade before today; else the listing price."""
    auction_price, auction_date = row.close_auction_price, row.close_auction_date
    trade_price, trade_date = row.trade_before_price, row.trade_before_date
    if auction_price is not None and (trade_date is None or auction_date >= trade_date):
        return Decimal(auction_price)
    if trade_price is not None:
        return Decimal(trade_price)
    return Decimal(row.listing_price)


def _money(value: Any) -> Decimal | None:
    return None if value is None else cents(Decimal(value))


def _ticker_row(row: Any, phase: str, indicative: tuple[Decimal | None, int] | None) -> dict:
    last_price = _money(row.last_price)
    previous_close = cents(_previous_close(row))
    change = None if last_price is None else last_price - previous_close
    best_bid, best_ask = _money(row.best_bid), _money(row.best_ask)
    indicative_price, indicative_volume = indicative if indicative is not None else (None, None)
    return {
        "id": row.pk,
        "vehicle_id": row.vehicle_id,
        "status": row.status,
        "total_shares": row.total_shares,
        "listing_price": cents(row.listing_price),
        "first_trading_date": row.first_trading_date,
        "symbol": row.symbol,
        "name": str(Vehicle(year=row.vehicle_year, make=row.vehicle_make, model=row.vehicle_model)),
        "phase": str(phase),
        "reference_price": cents(row.reference_price),
        "last_price": last_price,
        "previous_close": previous_close,
        "change": change,
        "change_percent": None if change is None else percent(change, previous_close),
        "open": _money(row.today_open),
        "high": _money(row.today_high),
        "low": _money(row.today_low),
        "volume": row.today_volume or 0,
        "best_bid": best_bid,
        "best_bid_quantity": row.best_bid_quantity if best_bid is not None else None,
        "best_ask": best_ask,
        "best_ask_quantity": row.best_ask_quantity if best_ask is not None else None,
        "spread": best_ask - best_bid if best_bid is not None and best_ask is not None else None,
        "indicative_price": _money(indicative_price),
        "indicative_volume": indicative_volume,
    }


def _indicative_auctions(
    instruments: list[Instrument],
) -> dict[int, tuple[Decimal | None, int]]:
    """The auction each instrument would run now, over its open orders' price levels: 1 query,
    none if the list is empty."""
    if not instruments:
        return {}
    books = book_levels([instrument.pk for instrument in instruments])
    results: dict[int, tuple[Decimal | None, int]] = {}
    for instrument in instruments:
        result = indicative(books[instrument.pk].levels, instrument.reference_price)
        results[instrument.pk] = (result.price, result.volume)
    return results


@dataclass(frozen=True, slots=True)
class BookLevels:
    """An instrument's open orders as the call auction's price levels: one engine order per
    side and limit price, per side and protection price, and per side for the market orders
    without one, holding the level's whole remaining quantity. `orders` counts the orders."""

    levels: list[EngineOrder]
    orders: int


def book_levels(instrument_ids: list[int]) -> dict[int, BookLevels]:
    """Each instrument's book as price levels (`engine.indicative` takes them for the orders):
    1 query, grouped in the database (a deep pre-open book has 100,000 orders and a few
    thousand levels)."""
    levels: dict[int, list[EngineOrder]] = {pk: [] for pk in instrument_ids}
    counts = dict.fromkeys(instrument_ids, 0)
    rows = (
        Order.objects.filter(
            instrument_id__in=instrument_ids,
            status__in=OPEN_STATUSES,
            quantity__gt=F("filled_quantity"),
        )
        .values_list("instrument_id", "side", "price", "protection_price")
        .annotate(remaining=Sum(F("quantity") - F("filled_quantity")), orders=Count("pk"))
        .order_by()
    )
    for number, (instrument_id, side, price, protection, remaining, orders) in enumerate(rows):
        # A protection price bounds only a market order (as in auction_orders).
        bound = protection if price is None else None
        levels[instrument_id].append(
            EngineOrder(number, side, int(remaining), price, number, protection_price=bound)
        )
        counts[instrument_id] += orders
    return {pk: BookLevels(levels[pk], counts[pk]) for pk in instrument_ids}


@dataclass(frozen=True, slots=True)
class AuctionOrderFacts:
    """What an auction needs of an open order besides its engine form."""

    user_id: int
    ends: bool  # the auction ends it if it stays open (the caller's `ending`)


def auction_orders(
    instrument_id: int, *, price: Decimal | None, ending: Q
) -> list[tuple[EngineOrder, AuctionOrderFacts]]:
    """The open orders an auction at `price` needs, in time priority: those that accept the
    price (`engine.uncross_at` allocates among them), every market order, and the orders
    matching `ending`, marked as such. 1 query. Rows, not model instances; and not the whole
    book: at the price of a deep book's auction a tenth of its 100,000 orders trade (make bench).
    """
    wanted = Q(price__isnull=True) | ending
    if price is not None:
        wanted |= Q(side=Side.BUY, price__gte=price) | Q(side=Side.SELL, price__lte=price)
    rows = (
        Order.objects.filter(wanted, instrument_id=instrument_id, status__in=OPEN_STATUSES)
        .annotate(ends=ExpressionWrapper(ending, output_field=BooleanField()))
        .order_by("pk")
        .values_list(
            "pk",
            "user_id",
            "side",
            "quantity",
            "filled_quantity",
            "price",
            "protection_price",
            "time_in_force",
            "ends",
        )
    )
    collected = []
    for pk, user_id, side, quantity, filled, limit, protection, tif, ends in rows:
        is_market = limit is None
        engine_order = EngineOrder(
            pk,
            side,
            quantity - filled,
            limit,
            pk,
            user_id,
            TimeInForce.DAY if is_market else tif,
            protection_price=protection if is_market else None,
        )
        collected.append((engine_order, AuctionOrderFacts(user_id, ends)))
    return collected


def auction_participants(instrument_id: int) -> set[int]:
    """The owners of the instrument's open orders: 1 query."""
    return set(
        Order.objects.filter(instrument_id=instrument_id, status__in=OPEN_STATUSES)
        .order_by()
        .values_list("user_id", flat=True)
        .distinct()
    )


# --- market data ----------------------------------------------------------------------------


def book_depth(instrument: Instrument, depth: int = 10) -> dict[str, list[dict[str, Any]]]:
    """The resting limit orders by price level, best first: `depth` levels a side, each
    {price, quantity, orders}; grouped in the database. Market orders waiting for an auction
    have no price and no level. 1 query."""
    return book_depths([instrument.pk], depth)[instrument.pk]


def book_depths(
    instrument_ids: Iterable[int], depth: int = 10
) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """`book_depth` of each instrument: 1 query, whatever the number of instruments. In SQL:
    the ORM would group by the window that ranks the levels too."""
    books: dict[int, dict[str, list[dict[str, Any]]]] = {
        pk: {"bids": [], "asks": []} for pk in instrument_ids
    }
    if not books:
        return books
    in_instruments, instrument_params = sql_in(connection, list(books))
    in_statuses, status_params = sql_in(connection, [str(status) for status in OPEN_STATUSES])
    # A level's place counts from the best: the highest bid, the lowest ask. The price comes
    # back as text, so that no database hands it over as a float.
    sql = f"""
        SELECT instrument_id, side, CAST(price AS TEXT), quantity, orders FROM (
            SELECT instrument_id, side, price,
                SUM(quantity - filled_quantity) AS quantity, COUNT(*) AS orders,
                ROW_NUMBER() OVER (
                    PARTITION BY instrument_id, side
                    ORDER BY CASE WHEN side = %s THEN -price ELSE price END
                ) AS place
            FROM {Order._meta.db_table}
            WHERE instrument_id {in_instruments} AND status {in_statuses}
                AND price IS NOT NULL
            GROUP BY instrument_id, side, price
        ) AS level
        WHERE place <= %s
        ORDER BY instrument_id, side, place"""  # noqa: S608 (names and placeholders only)
    with connection.cursor() as cursor:
        cursor.execute(sql, [str(Side.BUY), *instrument_params, *status_params, depth])
        rows = cursor.fetchall()
    for instrument_id, side, price, quantity, orders in rows:
        levels = books[instrument_id]["bids" if side == Side.BUY else "asks"]
        levels.append({"price": cents(Decimal(price)), "quantity": quantity, "orders": orders})
    return books


def trades_recent(instrument: Instrument, limit: int = 50) -> list[dict[str, Any]]:
    """The latest `limit` trades, newest first: 1 query."""
    rows = (
        Trade.objects.filter(instrument=instrument)
        .order_by("-executed_at", "-pk")
        .values("id", "price", "quantity", "executed_at", "kind")[:limit]
    )
    return [{**row, "price": cents(row["price"])} for row in rows]


def bars(
    instrument: Instrument, minutes: int = 30, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One-minute OHLCV bars of the trades in the last `minutes` minutes (the current minute
    included), oldest first; minutes without trades have no bar. 1 query."""
    now = now or clock.now()
    current_minute = now.replace(second=0, microsecond=0)
    since = current_minute - timedelta(minutes=minutes - 1)
    # Grouped in the database: a busy half hour has thousands of trades, a chart 30 bars. Every
    # zone's offset is whole minutes, so minutes cut in UTC are the market's minutes.
    minute = TruncMinute("executed_at", tzinfo=UTC)
    # One window for all five (the database computes identical windows in one pass): the
    # minute's trades in trade order, the whole minute in the frame.
    in_minute: dict[str, Any] = {
        "partition_by": [minute],
        "order_by": [F("executed_at").asc(), F("pk").asc()],
        "frame": RowRange(start=None, end=None),
    }
    rows = (
        Trade.objects.filter(instrument=instrument, executed_at__gte=since)
        .annotate(
            minute=minute,
            open=Window(FirstValue("price"), **in_minute),
            close=Window(LastValue("price"), **in_minute),
            high=Window(Max("price"), **in_minute),
            low=Window(Min("price"), **in_minute),
            volume=Window(Sum("quantity"), **in_minute),
        )
        .values_list("minute", "open", "high", "low", "close", "volume")
        .order_by("minute")
        .distinct()
    )
    localize = get_calendar().localize
    return [
        {
            "time": localize(minute),
            "open": cents(open_),
            "high": cents(high),
            "low": cents(low),
            "close": cents(close),
            "volume": volume,
        }
        for minute, open_, high, low, close, volume in rows
    ]


def auctions_for(instrument: Instrument) -> QuerySet[AuctionRecord]:
    """The instrument's auction records, newest first: 1 query a page."""
    return AuctionRecord.objects.filter(instrument=instrument).order_by("-trading_date", "-pk")


# --- orders ---------------------------------------------------------------------------------


def _orders_with_fills() -> QuerySet[Order]:
    fills = Trade.objects.order_by("executed_at", "pk").only(
        "pk", "buy_order_id", "sell_order_id", "price", "quantity", "executed_at"
    )
    return Order.objects.select_related("instrument").prefetch_related(
        Prefetch("buy_trades", queryset=fills), Prefetch("sell_trades", queryset=fills)
    )


def orders_for(user: Any, status: str | None = None) -> QuerySet[Order]:
    """The user's orders, newest first, with their fills; `status` "open" means open or
    partially filled. 3 queries a page (orders with instruments, then each side's fills)."""
    orders = _orders_with_fills().filter(user_id=user.pk)
    if status == "open":
        orders = orders.filter(status__in=OPEN_STATUSES)
    elif status is not None:
        orders = orders.filter(status=status)
    return orders.order_by("-pk")


def order_get(*, user: Any, order_id: int) -> Order:
    """One of the user's own orders with its fills: 3 queries. Another user's order is not
    found, like one that does not exist. Raises OrderNotFound."""
    order = _orders_with_fills().filter(user_id=user.pk, pk=order_id).first()
    if order is None:
        raise OrderNotFound()
    return order


def order_answer(*, user: Any, order: Order) -> Order:
    """The order an order or cancel request answers with: as its batch committed it when the
    batch knew all its fills (market.services.orders), else read again with `order_get`."""
    if getattr(order, "known_fills", None) is not None and order.user_id == user.pk:
        return order
    return order_get(user=user, order_id=order.pk)


def order_fills(order: Order) -> list[Trade]:
    """The order's trades, oldest first (prefetched by `orders_for` and `order_get`, known to
    the batch for `order_answer`)."""
    known = getattr(order, "known_fills", None)
    if known is not None:
        return list(known)
    trades = order.buy_trades if order.side == Side.BUY else order.sell_trades
    return list(trades.all())


ORDER_STATUS_FILTERS = ("open", *OrderStatus.values)


# --- accounts and portfolios ----------------------------------------------------------------


@dataclass(frozen=True)
class _Holdings:
    account: CashAccount | None
    positions: list[Position]

    @property
    def balance(self) -> Decimal:
        return self.account.balance_amount if self.account is not None else ZERO

    @property
    def reserved(self) -> Decimal:
        return self.account.reserved_amount if self.account is not None else ZERO

    @property
    def market_value(self) -> Decimal:
        return _sum(_market_value(position) for position in self.positions)


def _holdings(user: Any, *, closed_too: bool = False) -> _Holdings:
    """The user's cash account and positions with their instruments: 2 queries."""
    account = CashAccount.objects.filter(user_id=user.pk, kind=CashAccountKind.USER).first()
    positions = Position.objects.filter(user_id=user.pk).select_related("instrument")
    if closed_too:
        positions = positions.filter(Q(quantity__gt=0) | ~Q(realized_pnl_amount=0))
    else:
        positions = positions.filter(quantity__gt=0)
    return _Holdings(account, list(positions.order_by("instrument__symbol")))


def _market_value(position: Position) -> Decimal:
    return cents(position.instrument.reference_price * position.quantity)


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return cents(sum(amounts, ZERO))


def account_summary(user: Any) -> dict[str, Decimal]:
    """Cash balance, reserved and available cash, and equity (the balance plus every
    position marked at its instrument's reference price): 2 queries."""
    holdings = _holdings(user)
    return {
        "cash_balance": cents(holdings.balance),
        "cash_reserved": cents(holdings.reserved),
        "cash_available": cents(holdings.balance - holdings.reserved),
        "equity": cents(holdings.balance + holdings.market_value),
    }


def ledger_for(user: Any) -> QuerySet[LedgerEntry]:
    """The user's own ledger entries, newest first, with their transactions: 1 query a page."""
    return (
        LedgerEntry.objects.filter(account__user_id=user.pk, account__kind=CashAccountKind.USER)
        .select_related("transaction")
        .order_by("-pk")
    )


def portfolio_get(user: Any) -> dict[str, Any]:
    """Positions marked at their reference prices, with unrealized and realized P&L, and
    totals: 2 queries. Positions sold out stay listed while they carry realized P&L."""
    holdings = _holdings(user, closed_too=True)
    positions: list[dict[str, Any]] = []
    for position in holdings.positions:
        market_value = _market_value(position)
        cost = cents(position.cost_basis_amount)
        unrealized = market_value - cost
        positions.append(
            {
                "symbol": position.instrument.symbol,
                "quantity": position.quantity,
                "quantity_available": position.available_quantity,
                "average_cost": cents(position.average_cost),
                "mark_price": cents(position.instrument.reference_price),
                "market_value": market_value,
                "cost_basis": cost,
                "unrealized_pnl": unrealized,
                "unrealized_pnl_percent": percent(unrealized, cost),
                "realized_pnl": cents(position.realized_pnl_amount),
            }
        )
    market_value = _sum(row["market_value"] for row in positions)
    return {
        "positions": positions,
        "totals": {
            "market_value": market_value,
            "unrealized_pnl": _sum(row["unrealized_pnl"] for row in positions),
            "realized_pnl": _sum(row["realized_pnl"] for row in positions),
            "cash": cents(holdings.balance),
            "equity": cents(holdings.balance) + market_value,
        },
    }
