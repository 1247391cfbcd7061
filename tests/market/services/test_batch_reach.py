"""A batch loads only the resting orders it can reach (the first ones in priority order, as many
as its orders' quantity and cancels allow, plus its users' own crossable orders), and the result
is exactly what it is with every crossable resting order loaded: the same trades, the same
outcomes, the same self-trade refusals at any depth of the book."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.errors import DomainError
from market import locks
from market.models import OPEN_STATUSES, Order, Side, Trade
from market.services import orders
from market.services.orders import CancelOrder, PlaceOrder, book_execute, order_place

pytestmark = pytest.mark.django_db


def every_crossable_resting_order(reaches):
    """The reference: every resting order an incoming order of the batch could cross."""
    found: list[Order] = []
    for reach in reaches:
        within = Q(price__lte=reach.bound) if reach.side == Side.SELL else Q(price__gte=reach.bound)
        found += Order.objects.filter(
            within,
            instrument_id=reach.instrument_id,
            side=reach.side,
            status__in=OPEN_STATUSES,
            price__isnull=False,
        )
    return found


@pytest.fixture
def deep_book(continuous_instrument, make_trader):
    """Four traders around a book ten to twenty orders deep on each side; two of them have
    orders on both sides, one of those far from the touch, so a crossing order of theirs
    meets it only through self-trade prevention."""
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    first, second, third = (make_trader(cash="100000.00") for _ in range(3))
    symbol = instrument.symbol

    def place(user, side, quantity, price):
        return order_place(
            user_id=user.pk, symbol=symbol, side=side, quantity=quantity, price=price
        )

    for buyer in (first, second):
        place(owner, "sell", 150, "100.00")
        place(buyer, "buy", 150, "100.00")
    for n in range(15):
        # One share each: a batch's reach is then exactly as deep as its quantity allows.
        place(owner, "sell", 1, f"{Decimal('100.05') + Decimal('0.05') * n:.2f}")
        place(third, "buy", 1, f"{Decimal('99.95') - Decimal('0.05') * n:.2f}")
    for n in range(5):
        place(second, "buy", 2, f"{Decimal('99.90') - Decimal('0.10') * n:.2f}")
        place(first, "sell", 2, f"{Decimal('100.40') + Decimal('0.10') * n:.2f}")
    place(first, "buy", 3, "98.50")  # deep: a sell of `first` crossing it is refused
    place(second, "sell", 3, "101.50")  # deep: a buy of `second` crossing it is refused
    instrument.refresh_from_db()
    return instrument, [owner, first, second, third]


command_plans = st.lists(
    st.tuples(
        st.sampled_from(["limit", "limit", "market", "ioc", "cancel"]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(0, 3),  # which trader
        st.integers(1, 8),  # quantity
        st.integers(-40, 40),  # price in ticks of 5 cents from 100.00
        st.integers(0, 10**6),  # which open order a cancel names
    ),
    min_size=1,
    max_size=12,
)


def batch_of(plans, instrument, users) -> list[orders.Command]:
    open_ids = list(
        Order.objects.filter(instrument=instrument, status__in=OPEN_STATUSES)
        .order_by("pk")
        .values_list("pk", "user_id")
    )
    commands: list[orders.Command] = []
    for kind, side, who, quantity, ticks, pick in plans:
        user = users[who]
        if kind == "cancel":
            order_id, owner_id = open_ids[pick % len(open_ids)]
            commands.append(
                CancelOrder(user_id=owner_id if pick % 5 else user.pk, order_id=order_id)
            )
            continue
        price = None if kind == "market" else Decimal("100.00") + Decimal("0.05") * ticks
        commands.append(
            PlaceOrder(
                user_id=user.pk,
                side=side,
                type="market" if kind == "market" else "limit",
                quantity=quantity,
                price=price,
                time_in_force="ioc" if kind in ("ioc", "market") else "day",
            )
        )
    return commands


def run_and_undo(instrument, commands):
    """The batch's outcomes and trades, with the orders it created named by their position;
    then everything it wrote is rolled back."""
    last_order = Order.objects.order_by("-pk").values_list("pk", flat=True).first()
    last_trade = Trade.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with transaction.atomic():
        outcomes = book_execute(locks.instrument_for_update(symbol=instrument.symbol), commands)
        created = Order.objects.filter(pk__gt=last_order).order_by("pk")
        name = {pk: ("new", n) for n, pk in enumerate(created.values_list("pk", flat=True))}
        answers = [
            outcome.code
            if isinstance(outcome, DomainError)
            else (name.get(outcome.pk, outcome.pk), outcome.status, outcome.filled_quantity)
            for outcome in outcomes
        ]
        trades = [
            (name.get(buy, buy), name.get(sell, sell), price, quantity)
            for buy, sell, price, quantity in Trade.objects.filter(pk__gt=last_trade)
            .order_by("pk")
            .values_list("buy_order_id", "sell_order_id", "price", "quantity")
        ]
        transaction.set_rollback(True)
    return answers, trades


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=command_plans)
def test_a_batch_that_loads_only_what_it_can_reach_trades_as_if_it_loaded_every_order(
    deep_book, monkeypatch, plans
):
    instrument, users = deep_book
    commands = batch_of(plans, instrument, users)

    reached = run_and_undo(instrument, commands)
    with monkeypatch.context() as patched:
        patched.setattr(orders, "crossable_resting_orders", every_crossable_resting_order)
        everything = run_and_undo(instrument, commands)

    assert reached == everything


def test_a_buy_is_refused_for_its_own_ask_deep_in_the_book(deep_book, monkeypatch):
    instrument, (_owner, _first, second, _third) = deep_book
    loaded: list[int] = []
    reach = orders.crossable_resting_orders

    def spy(*args, **kwargs):
        found = reach(*args, **kwargs)
        loaded.append(len(found))
        return found

    monkeypatch.setattr(orders, "crossable_resting_orders", spy)
    buy = PlaceOrder(second.pk, Side.BUY, "limit", 1, Decimal("102.00"), "day")

    [answer], trades = run_and_undo(instrument, [buy])

    assert answer == "self_trade"
    assert trades == []
    # One share reaches one ask; the other is the buyer's own, 25 asks deep.
    assert loaded == [2]


def test_a_cancel_in_the_batch_lets_a_later_order_reach_one_ask_further(deep_book):
    instrument, (owner, _first, _second, third) = deep_book
    best_ask = Order.objects.filter(instrument=instrument, side=Side.SELL, status="open").order_by(
        "price", "pk"
    )[0]
    batch = [
        CancelOrder(user_id=owner.pk, order_id=best_ask.pk),
        PlaceOrder(third.pk, Side.BUY, "market", 2, None, "ioc"),
    ]

    [cancelled, (_, status, filled)], trades = run_and_undo(instrument, batch)

    assert cancelled[1:] == ("cancelled", 0)
    assert (status, filled) == ("filled", 2)
    assert [price for _, _, price, _ in trades] == [Decimal("100.10"), Decimal("100.15")]


def test_the_one_postgresql_statement_loads_what_the_orm_loads(
    deep_book, continuous_instrument, make_trader, monkeypatch
):
    # PostgreSQL reads the reaches of every instrument of a step in one statement; SQLite (and
    # this comparison) through the ORM, a query a reach. Both must load the same orders.
    if connection.vendor != "postgresql":
        pytest.skip("the one statement runs on PostgreSQL")
    deep, (_owner, first, second, third) = deep_book
    other = continuous_instrument()
    buyer = make_trader(cash="100000.00")
    for n in range(6):
        order_place(
            user_id=other.vehicle.owner.pk,
            symbol=other.symbol,
            side="sell",
            quantity=2,
            price=f"{101 + n}.00",
        )
        order_place(
            user_id=buyer.pk, symbol=other.symbol, side="buy", quantity=1, price=f"{99 - n}.00"
        )
    reaches = [
        orders.Reach(deep.pk, Side.SELL, Decimal("100.50"), 7, frozenset({second.pk, third.pk})),
        orders.Reach(deep.pk, Side.BUY, Decimal("99.00"), 3, frozenset({first.pk})),
        orders.Reach(other.pk, Side.SELL, Decimal("104.00"), 2, frozenset({buyer.pk})),
        orders.Reach(other.pk, Side.BUY, Decimal("90.00"), 50, frozenset()),
    ]

    def loaded():
        return sorted(order.pk for order in orders.crossable_resting_orders(reaches))

    in_one_statement = loaded()
    monkeypatch.setattr(connection, "vendor", "sqlite")
    through_orm = loaded()

    assert in_one_statement == through_orm
    assert len(in_one_statement) == len(set(in_one_statement)) > 7 + 3 + 2
