"""Placing and cancelling orders.

`book_execute_many` is the matching step: a batch of commands (new orders, cancels) for each of
one or more locked instruments, in one transaction. The sequencer (market/services/sequencer.py)
runs the commands that concurrent requests of a process send, for every instrument it can lock,
as one step. A command's business rejection is its outcome, never an exception that would undo
the rest of the step.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models import Count, Q

from market import clock
from market.engine import Order as EngineOrder
from market.engine import OrderBook
from market.errors import (
    DomainError,
    DuplicateClientOrderId,
    InstrumentDelisted,
    InsufficientShares,
    InvalidOrder,
    IocOutsideContinuous,
    MarketHalted,
    OrderNotFound,
    OrderNotOpen,
    SelfTrade,
    TooManyOpenOrders,
)
from market.models import (
    OPEN_STATUSES,
    Instrument,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Trade,
    TradeKind,
)
from market.money import is_on_tick, protection_price, to_decimal
from market.phases import CALL_PHASES, Phase, instrument_phases, trading_date_at
from market.services.book import BookSession, reservation_for
from market.services.sequencer import sequencer

CLIENT_ORDER_ID_MAX_LENGTH = 64


@dataclass(frozen=True)
class PlaceOrder:
    user_id: int
    side: str
    type: str
    quantity: int
    price: Decimal | None
    time_in_force: str
    client_order_id: str | None = None

    def same_content_as(self, order: Order, symbol: str) -> bool:
        return (
            order.instrument.symbol == symbol
            and order.side == self.side
            and order.type == self.type
            and order.quantity == self.quantity
            and order.price == self.price
            and order.time_in_force == self.time_in_force
        )


@dataclass(frozen=True)
class CancelOrder:
    user_id: int
    order_id: int
    # Who asked, when not the owner: an operator cancelling from the admin.
    actor_id: int | None = None


Command = PlaceOrder | CancelOrder
Outcome = Order | DomainError


# --- entry points ---------------------------------------------------------------------------


def order_place(
    *,
    user_id: int,
    symbol: str,
    side: str,
    type: str = OrderType.LIMIT,
    quantity: object,
    price: object = None,
    time_in_force: str = TimeInForce.DAY,
    client_order_id: str | None = None,
) -> Order:
    """Validate, reserve, match and store one order. Locks: the instrument, then, at the
    step's write, the cash accounts it changes or checks (docs/market-decisions.md). Runs in
    the process's next combined step that can lock its instrument (market/services/sequencer.py)
    and returns once that step has committed. Returns the order with `was_replayed` set when
    `client_order_id` repeats an earlier identical order."""
    command = validate_place(
        user_id=user_id,
        side=side,
        type=type,
        quantity=quantity,
        price=price,
        time_in_force=time_in_force,
        client_order_id=client_order_id,
    )
    try:
        outcome = sequencer.submit(symbol.upper(), command)
    except IntegrityError:
        # The same client_order_id placed at once on another instrument: the unique
        # constraint let one through; answer as a retry would be answered.
        if command.client_order_id is None:
            raise
        outcome = _replay(command, symbol.upper())
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome  # type: ignore[return-value]


def order_cancel(*, user_id: int, order_id: int, actor_id: int | None = None) -> Order:
    """Cancel `user_id`'s open order and release its reservation. Locks: the instrument, the
    owner's cash account (a buy's). Another user's order is reported as not found. `actor_id` names an
    operator acting for the owner, for the audit trail."""
    symbol = (
        Order.objects.filter(pk=order_id, user_id=user_id)
        .values_list("instrument__symbol", flat=True)
        .first()
    )
    if symbol is None:
        raise OrderNotFound()
    outcome = sequencer.submit(
        symbol, CancelOrder(user_id=user_id, order_id=order_id, actor_id=actor_id)
    )
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome  # type: ignore[return-value]


# --- validation of the request alone --------------------------------------------------------


def validate_place(
    *,
    user_id: int,
    side: str,
    type: str,
    quantity: object,
    price: object,
    time_in_force: str,
    client_order_id: str | None,
) -> PlaceOrder:
    if side not in Side.values:
        raise InvalidOrder("Side is 'buy' or 'sell'.", field="side")
    if type not in OrderType.values:
        raise InvalidOrder("Type is 'limit' or 'market'.", field="type")
    if time_in_force not in TimeInForce.values:
        raise InvalidOrder("Time in force is 'day', 'gtc' or 'ioc'.", field="time_in_force")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidOrder("Quantity is a whole number of shares, at least 1.", field="quantity")
    limit = _validate_price(type, price)
    if client_order_id is not None:
        client_order_id = str(client_order_id)
        if not client_order_id or len(client_order_id) > CLIENT_ORDER_ID_MAX_LENGTH:
            raise InvalidOrder(
                f"client_order_id has 1 to {CLIENT_ORDER_ID_MAX_LENGTH} characters.",
                field="client_order_id",
            )
    return PlaceOrder(
        user_id=user_id,
        side=side,
        type=type,
        quantity=quantity,
        price=limit,
        time_in_force=time_in_force,
        client_order_id=client_order_id,
    )


def _validate_price(type: str, price: object) -> Decimal | None:
    if type == OrderType.MARKET:
        if price not in (None, ""):
            raise InvalidOrder("A market order has no price; leave it out.", field="price")
        return None
    if price in (None, ""):
        raise InvalidOrder("A limit order needs a price.", field="price")
    try:
        limit = to_decimal(price)
    except (TypeError, ValueError):
        raise InvalidOrder(
            "The price is a decimal number of dollars such as 98.50.", field="price"
        ) from None
    if not settings.MARKET_MIN_PRICE <= limit <= settings.MARKET_MAX_PRICE:
        raise InvalidOrder(
            f"The price is between {settings.MARKET_MIN_PRICE} and {settings.MARKET_MAX_PRICE:,}.",
            field="price",
        )
    if not is_on_tick(limit):
        raise InvalidOrder(f"The price {limit} is not on the $0.01 tick.", field="price")
    return limit.quantize(Decimal("0.01"))


# --- the matching step ----------------------------------------------------------------------


def book_execute(
    instrument: Instrument,
    commands: list[Command],
    *,
    now: datetime | None = None,
    lock_cash_first: bool = False,
) -> list[Outcome]:
    """Run `commands` in order against the locked `instrument`'s book; one outcome each
    (`book_execute_many`, for one instrument)."""
    [outcomes] = book_execute_many(
        [(instrument, commands)], now=now, lock_cash_first=lock_cash_first
    )
    return outcomes


def book_execute_many(
    batches: list[tuple[Instrument, list[Command]]],
    *,
    now: datetime | None = None,
    lock_cash_first: bool = False,
) -> list[list[Outcome]]:
    """Run each batch's commands in order against its locked instrument's book, all as one
    step: one read of the accounts, positions and open-order counts, one write of each kind
    of row. One list of outcomes per batch, one outcome per command.

    The cash accounts of the commands' users and of every resting order the step could cross
    are read unlocked, and those it changes or checks are locked at its write, unless
    `lock_cash_first` (market/services/book.py). Raises CashMovedMeanwhile when another
    transaction moved one of them meanwhile so that a cash check would decide otherwise; the
    caller then rolls back and runs the step again with `lock_cash_first`."""
    now = now or clock.now()
    instruments = [instrument for instrument, _ in batches]
    assert len({instrument.pk for instrument in instruments}) == len(batches), "one batch each"
    phases = instrument_phases(instruments, now=now)
    session = BookSession(
        instruments, now=now, trading_date=trading_date_at(now), lock_cash_first=lock_cash_first
    )
    commands = [command for _, batch in batches for command in batch]
    places = [command for command in commands if isinstance(command, PlaceOrder)]
    cancelled_ids = [command.order_id for command in commands if isinstance(command, CancelOrder)]
    cancel_targets: dict[int, Order] = (
        {
            order.pk: order
            for order in session.track(
                Order.objects.filter(instrument__in=instruments, pk__in=cancelled_ids)
            )
        }
        if cancelled_ids
        else {}
    )
    reaches = [
        reach
        for instrument, batch in batches
        if phases[instrument.pk] == Phase.CONTINUOUS
        for reach in _reaches(instrument, batch)
    ]
    books = {instrument.pk: OrderBook() for instrument in instruments}
    # The positions the step can touch: its users' in their batch's instrument, the resting
    # orders' owners' and the cancelled orders' owners' in theirs.
    pairs = {(instrument.pk, command.user_id) for instrument, batch in batches for command in batch}
    for order in session.track(crossable_resting_orders(reaches)):
        books[order.instrument_id].add_resting(_engine_order(order))
        pairs.add((order.instrument_id, order.user_id))
    pairs |= {(order.instrument_id, order.user_id) for order in cancel_targets.values()}
    session.load_accounts({user_id for _, user_id in pairs}, positions=pairs)
    for order in cancel_targets.values():
        if order.is_open:
            session.position(order.user_id, order.instrument_id)

    results: list[list[Outcome]] = []
    replays: dict[tuple[int, str], Order] = {}
    open_counts = _open_order_counts({command.user_id for command in places})
    if places:
        session.take_order_ids(len(places))
    for instrument, batch in batches:
        phase, book = phases[instrument.pk], books[instrument.pk]
        outcomes: list[Outcome] = []
        for command in batch:
            try:
                if isinstance(command, CancelOrder):
                    outcomes.append(
                        _cancel(session, instrument, book, cancel_targets, command, open_counts)
                    )
                else:
                    outcomes.append(
                        _place(session, instrument, book, phase, command, replays, open_counts)
                    )
            except DomainError as error:
                outcomes.append(error)
                session.audit(
                    "order.rejected" if isinstance(command, PlaceOrder) else "order.cancel_refused",
                    instrument=instrument,
                    actor_id=command.user_id,
                    code=error.code,
                    detail=error.detail,
                    # What was refused, so the stored log replays it (tests/market/test_replay.py).
                    **_refused_command(command),
                )
        results.append(outcomes)
    session.flush()
    _attach_known_fills(session, results, places=set(map(id, places)), batches=batches)
    return results


def _attach_known_fills(
    session: BookSession,
    results: list[list[Outcome]],
    *,
    places: set[int],
    batches: list[tuple[Instrument, list[Command]]],
) -> None:
    """Give each order the step answers with its fills, when the step knows all of them, so
    the response needs no second read (`selectors.order_answer`): an order placed in this step
    has only this step's trades; a cancelled order that never filled has none."""
    fills: dict[int, list[Trade]] = {}
    for execution in session.executions:
        trade = execution.trade
        fills.setdefault(trade.buy_order_id, []).append(trade)
        fills.setdefault(trade.sell_order_id, []).append(trade)
    for (instrument, commands), outcomes in zip(batches, results, strict=True):
        for command, outcome in zip(commands, outcomes, strict=True):
            if not isinstance(outcome, Order) or getattr(outcome, "was_replayed", False):
                continue
            if id(command) in places or outcome.filled_quantity == 0:
                outcome.instrument = instrument
                outcome.known_fills = fills.get(outcome.pk, [])  # type: ignore[attr-defined]


def _refused_command(command: Command) -> dict[str, object]:
    if isinstance(command, CancelOrder):
        return {"cancel_order_id": command.order_id, "cancel_actor_id": command.actor_id}
    return {
        "side": command.side,
        "type": command.type,
        "quantity": command.quantity,
        "price": command.price,
        "time_in_force": command.time_in_force,
        "client_order_id": command.client_order_id,
    }


@dataclass(frozen=True, slots=True)
class Reach:
    """What one side of a batch's new orders can meet in an instrument's book: the resting
    orders of `side` priced within `bound`, the first `count` of them in price-time priority,
    and any of `users`' own (self-trade prevention looks at those at any depth)."""

    instrument_id: int
    side: str
    bound: Decimal
    count: int
    users: frozenset[int]


def _reaches(instrument: Instrument, batch: list[Command]) -> list[Reach]:
    """The reach of the batch's new orders on each side of the book.

    The orders of one side together take at most their total quantity from the resting
    orders opposite, and every resting order they touch gives at least one share, so they
    touch at most that many, in priority order; the batch's cancels can take as many out of
    that prefix as there are cancels. Nothing beyond it can trade in this batch, so a deep
    book costs no more than a shallow one."""
    places = [command for command in batch if isinstance(command, PlaceOrder)]
    cancels = len(batch) - len(places)
    reaches = []
    for side, opposite in ((Side.BUY, Side.SELL), (Side.SELL, Side.BUY)):
        incoming = [command for command in places if command.side == side]
        if not incoming:
            continue
        limits = [_limit_for(command, instrument.reference_price) for command in incoming]
        reaches.append(
            Reach(
                instrument.pk,
                opposite,
                max(limits) if opposite == Side.SELL else min(limits),
                sum(command.quantity for command in incoming) + cancels,
                frozenset(command.user_id for command in incoming),
            )
        )
    return reaches


def crossable_resting_orders(reaches: list[Reach]) -> list[Order]:
    """The resting orders within the reaches, each once: on PostgreSQL 1 statement, whatever
    the number of instruments (`_CROSSABLE_SQL`); elsewhere 1 query a reach and 1 for the
    users' own orders."""
    if not reaches:
        return []
    if connection.vendor == "postgresql":
        found = Order.objects.raw(_crossable_sql(), _crossable_params(reaches))
        return list({order.pk: order for order in found}.values())
    resting = Order.objects.filter(status__in=OPEN_STATUSES, price__isnull=False)
    by_pk: dict[int, Order] = {}
    own = Q(pk__in=[])
    for reach in reaches:
        within = Q(instrument_id=reach.instrument_id, side=reach.side) & (
            Q(price__lte=reach.bound) if reach.side == Side.SELL else Q(price__gte=reach.bound)
        )
        best_first = "price" if reach.side == Side.SELL else "-price"
        prefix = resting.filter(within).order_by(best_first, "pk")[: reach.count]
        by_pk.update((order.pk, order) for order in prefix)
        own |= within & Q(user_id__in=reach.users)
    # Apart from the prefixes: an OR of "in the prefix" and "the user's own" would make
    # PostgreSQL scan every order the instrument ever had.
    for order in resting.filter(own):
        by_pk.setdefault(order.pk, order)
    return list(by_pk.values())


@functools.cache
def _crossable_sql() -> str:
    """One statement for every reach: the asks' prefixes, the bids' prefixes (each a LATERAL
    scan of the open orders' index, as the ORM's query of one reach), then the users' own.
    Built once: compiling the ORM's queries was most of their cost (make bench)."""
    quote = connection.ops.quote_name
    table = quote(Order._meta.db_table)
    # Named, not `resting.*`: a statement prepared before a migration added a column would
    # otherwise fail ("cached plan must not change result type", config/settings/base.py).
    columns = ", ".join(f"resting.{quote(field.column)}" for field in Order._meta.concrete_fields)
    sell, buy = Side.SELL.value, Side.BUY.value

    def prefixes(side: str, within: str, best_first: str) -> str:
        return (
            f"SELECT {columns} FROM unnest(%s::bigint[], %s::numeric[], %s::bigint[]) "  # noqa: S608
            "AS reach(instrument_id, bound, count) CROSS JOIN LATERAL ("
            f"SELECT * FROM {table} WHERE instrument_id = reach.instrument_id "
            f"AND side = '{side}' AND status IN (%s, %s) AND price IS NOT NULL AND {within} "
            f"ORDER BY {best_first}, id LIMIT reach.count) AS resting"
        )

    return (
        f"{prefixes(sell, 'price <= reach.bound', 'price')} UNION ALL "  # noqa: S608
        f"{prefixes(buy, 'price >= reach.bound', 'price DESC')} UNION ALL "
        f"SELECT {columns} FROM unnest(%s::bigint[], %s::text[], %s::numeric[], %s::bigint[]) "
        f"AS own(instrument_id, side, bound, user_id) JOIN {table} AS resting "
        "ON resting.instrument_id = own.instrument_id AND resting.side = own.side "
        "AND resting.user_id = own.user_id "
        "WHERE resting.status IN (%s, %s) AND resting.price IS NOT NULL "
        f"AND CASE WHEN own.side = '{sell}' THEN resting.price <= own.bound "
        "ELSE resting.price >= own.bound END"
    )


def _crossable_params(reaches: list[Reach]) -> list[Any]:
    open_statuses = [str(status) for status in OPEN_STATUSES]
    params: list[Any] = []
    for side in (Side.SELL, Side.BUY):
        of_side = [reach for reach in reaches if reach.side == side]
        params += [
            [reach.instrument_id for reach in of_side],
            [reach.bound for reach in of_side],
            [reach.count for reach in of_side],
            *open_statuses,
        ]
    own = [(reach, user_id) for reach in reaches for user_id in sorted(reach.users)]
    params += [
        [reach.instrument_id for reach, _ in own],
        [reach.side for reach, _ in own],
        [reach.bound for reach, _ in own],
        [user_id for _, user_id in own],
        *open_statuses,
    ]
    return params


def _limit_for(command: PlaceOrder, reference: Decimal) -> Decimal:
    if command.price is not None:
        return command.price
    return protection_price(reference, command.side, Decimal(settings.MARKET_PROTECTION_RATE))


def _engine_order(order: Order) -> EngineOrder:
    """A saved order as the engine sees it: its rest, with its id as time priority."""
    is_market = order.price is None
    return EngineOrder(
        order.pk,
        order.side,
        order.remaining_quantity,
        order.price,
        order.pk,
        order.user_id,
        TimeInForce.IOC if is_market else order.time_in_force,
        protection_price=order.protection_price if is_market else None,
    )


def _cancel(
    session: BookSession,
    instrument: Instrument,
    book: OrderBook,
    targets: dict[int, Order],
    command: CancelOrder,
    open_counts: dict[int, int],
) -> Order:
    order = targets.get(command.order_id)
    if order is None or order.user_id != command.user_id or order.instrument_id != instrument.pk:
        raise OrderNotFound()
    if not order.is_open:
        raise OrderNotOpen(order_id=order.pk, status=order.get_status_display().lower())
    if book.get(order.pk) is not None:
        book.cancel(order.pk)
    session.close(order, OrderStatus.CANCELLED)
    _count_closed(open_counts, order)
    session.audit(
        "order.cancelled",
        instrument=instrument,
        actor_id=command.actor_id or command.user_id,
        order_id=order.pk,
        owner_id=order.user_id,
    )
    return order


def _place(
    session: BookSession,
    instrument: Instrument,
    book: OrderBook,
    phase: Phase,
    command: PlaceOrder,
    replays: dict[tuple[int, str], Order],
    open_counts: dict[int, int],
) -> Order:
    if phase == Phase.HALTED:
        raise MarketHalted(symbol=instrument.symbol)
    if phase == Phase.DELISTED:
        raise InstrumentDelisted(symbol=instrument.symbol)
    if command.client_order_id is not None:
        earlier = replays.get((command.user_id, command.client_order_id)) or _earlier_order(command)
        if earlier is not None:
            if not command.same_content_as(earlier, instrument.symbol):
                raise DuplicateClientOrderId(
                    client_order_id=command.client_order_id, order_id=earlier.pk
                )
            # A copy: the earlier order may be this batch's own, answered as new.
            replayed = copy.copy(earlier)
            replayed.was_replayed = True  # type: ignore[attr-defined]
            return replayed
    if command.quantity > instrument.total_shares:
        raise InvalidOrder(
            f"Quantity is at most {instrument.total_shares:,}, the shares {instrument.symbol} has.",
            field="quantity",
        )
    if command.time_in_force == TimeInForce.IOC and phase in CALL_PHASES:
        raise IocOutsideContinuous(symbol=instrument.symbol)
    _check_open_order_limit(open_counts, command.user_id)

    order = Order(
        user_id=command.user_id,
        instrument=instrument,
        side=command.side,
        type=command.type,
        time_in_force=command.time_in_force,
        quantity=command.quantity,
        price=command.price,
        client_order_id=command.client_order_id,
        trading_date=session.trading_date,
    )
    if command.type == OrderType.MARKET:
        order.protection_price = protection_price(
            instrument.reference_price, command.side, Decimal(settings.MARKET_PROTECTION_RATE)
        )
    _check_self_trade(session, book, phase, order)
    _check_funds(session, order)

    session.add_order(order)
    session.reserve(order)
    session.audit(
        "order.placed",
        instrument=instrument,
        actor_id=order.user_id,
        order_id=order.pk,
        side=order.side,
        type=order.type,
        quantity=order.quantity,
        price=order.price,
        protection_price=order.protection_price,
        time_in_force=order.time_in_force,
        client_order_id=order.client_order_id,
        phase=phase.value,
    )
    if command.client_order_id is not None:
        replays[(command.user_id, command.client_order_id)] = order
    if phase == Phase.CONTINUOUS:
        for maker in _match(session, book, order):
            _count_closed(open_counts, maker)
    if order.is_open:
        open_counts[order.user_id] = open_counts.get(order.user_id, 0) + 1
    return order


def _earlier_order(command: PlaceOrder) -> Order | None:
    return (
        Order.objects.select_related("instrument")
        .filter(user_id=command.user_id, client_order_id=command.client_order_id)
        .first()
    )


def _replay(command: PlaceOrder, symbol: str) -> Outcome:
    earlier = _earlier_order(command)
    if earlier is None:
        raise IntegrityError("order insert failed for another reason")
    if not command.same_content_as(earlier, symbol):
        return DuplicateClientOrderId(client_order_id=command.client_order_id, order_id=earlier.pk)
    earlier.was_replayed = True  # type: ignore[attr-defined]
    return earlier


def _open_order_counts(user_ids: set[int]) -> dict[int, int]:
    """Each user's open orders in every instrument, in one query for the whole batch; the
    batch keeps it up to date as its orders rest, fill and are cancelled (`_count_closed`), so
    each order sees what a count of its own would have seen."""
    if not user_ids:
        return {}
    return dict(
        Order.objects.filter(user_id__in=user_ids, status__in=OPEN_STATUSES)
        .order_by()
        .values("user_id")
        .annotate(open_orders=Count("id"))
        .values_list("user_id", "open_orders")
    )


def _count_closed(open_counts: dict[int, int], order: Order) -> None:
    """An order open before this command closed in it: one fewer for its owner, if counted."""
    if order.user_id in open_counts and not order.is_open:
        open_counts[order.user_id] = max(0, open_counts[order.user_id] - 1)


def _check_open_order_limit(open_counts: dict[int, int], user_id: int) -> None:
    limit = settings.MARKET_MAX_OPEN_ORDERS_PER_USER
    if open_counts.get(user_id, 0) >= limit:
        raise TooManyOpenOrders(limit=limit)


def _check_self_trade(session: BookSession, book: OrderBook, phase: Phase, order: Order) -> None:
    """Nobody trades with themselves, in any phase (MARKET_RULES 3). In continuous trading the
    loaded book holds every order this one could reach; in a call phase the database is asked."""
    if phase == Phase.CONTINUOUS and not book.would_self_trade(_probe(order)):
        return
    limit = order.limit_price
    assert limit is not None
    reachable = Q(price__lte=limit) if order.side == Side.BUY else Q(price__gte=limit)
    opposite = Side.SELL if order.side == Side.BUY else Side.BUY
    # Own resting limits within reach, and own market orders waiting for the auction.
    saved = (
        Order.objects.filter(
            instrument_id=order.instrument_id,
            user_id=order.user_id,
            side=opposite,
            status__in=OPEN_STATUSES,
        )
        .filter(reachable | Q(price__isnull=True))
        .order_by("pk")
        .first()
    )
    # This step's own orders are written at its flush, so the database does not have them yet.
    crossing = [
        earlier
        for earlier in session.new_orders
        if earlier.user_id == order.user_id
        and earlier.instrument_id == order.instrument_id
        and earlier.side == opposite
        and earlier.is_open
        and (
            earlier.price is None
            or (earlier.price <= limit if order.side == Side.BUY else earlier.price >= limit)
        )
    ]
    if saved is not None:
        crossing.append(saved)
    if crossing:
        first = min(crossing, key=lambda candidate: candidate.pk)
        raise SelfTrade(order_id=first.pk, field="price" if order.price is not None else "type")


def _probe(order: Order) -> EngineOrder:
    """The unsaved order as the engine sees it; -1 cannot collide with a saved order's id."""
    return EngineOrder(
        -1,
        order.side,
        order.quantity,
        order.price,
        2**62,
        order.user_id,
        TimeInForce.IOC if order.price is None else order.time_in_force,
        protection_price=order.protection_price if order.price is None else None,
    )


def _check_funds(session: BookSession, order: Order) -> None:
    if order.side == Side.BUY:
        session.require_cash(order.user_id, reservation_for(order))
    else:
        position = session.position(order.user_id, order.instrument_id)
        if position.available_quantity < order.quantity:
            raise InsufficientShares(
                needed=order.quantity, available=position.available_quantity, field="quantity"
            )


def _match(session: BookSession, book: OrderBook, order: Order) -> list[Order]:
    """Trade `order` against the book; returns the resting orders it filled completely."""
    fills = book.submit(_engine_order(order))
    filled_makers: list[Order] = []
    for fill in fills:
        maker = session.orders[fill.maker_id]
        buy, sell = (order, maker) if order.side == Side.BUY else (maker, order)
        session.execute(
            buy=buy,
            sell=sell,
            price=fill.price,
            quantity=fill.qty,
            kind=TradeKind.CONTINUOUS,
            aggressor_side=order.side,
        )
        if not maker.is_open:
            filled_makers.append(maker)
    if order.is_open and (order.type == OrderType.MARKET or order.time_in_force == TimeInForce.IOC):
        # Whatever an immediate-or-cancel or market order could not fill at once is cancelled.
        if book.get(order.pk) is not None:
            book.cancel(order.pk)
        session.close(order, OrderStatus.CANCELLED)
    return filled_makers
