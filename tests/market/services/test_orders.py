"""Order placement and cancels through the service layer: the worked examples of MARKET_RULES."""

from decimal import Decimal

import pytest

from market.errors import (
    DuplicateClientOrderId,
    InsufficientCash,
    InsufficientShares,
    InvalidOrder,
    IocOutsideContinuous,
    MarketHalted,
    OrderNotFound,
    OrderNotOpen,
    SelfTrade,
)
from market.models import (
    AuditEvent,
    CashAccount,
    CashAccountKind,
    InstrumentStatus,
    LedgerEntry,
    OrderStatus,
    Position,
    Trade,
)
from market.services.ledger import cash_balance, cash_deposit, system_account
from market.services.orders import order_cancel, order_place

pytestmark = pytest.mark.django_db


def cash(user):
    return CashAccount.objects.get(user=user)


def shares(user, instrument):
    return Position.objects.get(user=user, instrument=instrument)


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


def test_listing_gives_the_owner_every_share_at_the_listing_price(make_instrument):
    instrument = make_instrument(total_shares=1000, listing_price="100.00")

    position = shares(instrument.vehicle.owner, instrument)
    assert (instrument.total_shares, instrument.listing_price) == (1000, Decimal("100.00"))
    assert (position.quantity, position.cost_basis_amount) == (1000, Decimal("100000.00"))
    assert position.average_cost == Decimal("100.0000")


def test_trade_at_resting_price_charges_one_percent_each_side(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    seller = instrument.vehicle.owner
    buyer = make_trader(cash="10000.00")

    ask = place(seller, instrument, "sell", 50, "107.00")
    bid = place(buyer, instrument, "buy", 50, "110.00")

    trade = Trade.objects.get()
    assert (trade.price, trade.quantity, trade.sell_order_id, trade.aggressor_side) == (
        Decimal("107.00"),
        50,
        ask.pk,
        "buy",
    )
    assert (trade.buyer_fee_amount, trade.seller_fee_amount) == (Decimal("53.50"), Decimal("53.50"))
    assert cash(buyer).balance_amount == Decimal("10000.00") - Decimal("5350.00") - Decimal("53.50")
    assert cash(buyer).reserved_amount == Decimal("0.00")
    assert cash(seller).balance_amount == Decimal("5350.00") - Decimal("53.50")
    assert cash_balance(account=system_account(CashAccountKind.REVENUE)) == Decimal("107.00")
    assert shares(buyer, instrument).quantity == 50
    assert shares(buyer, instrument).cost_basis_amount == Decimal("5403.50")
    assert shares(seller, instrument).quantity == 950
    assert shares(seller, instrument).realized_pnl_amount == Decimal("296.50")
    bid.refresh_from_db()
    assert (bid.status, bid.filled_quantity, bid.average_fill_price) == (
        "filled",
        50,
        Decimal("107"),
    )
    instrument.refresh_from_db()
    assert instrument.last_price == Decimal("107.00")


def test_every_trade_ledger_transaction_balances(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 3, "98.37")
    place(make_trader(), instrument, "buy", 3, "98.37")

    legs = LedgerEntry.objects.filter(transaction__kind="trade").values_list("amount", flat=True)
    assert len(legs) == 3
    assert sum(legs) == Decimal("0.00")


def test_market_buy_sweeps_three_levels_at_each_resting_price(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    seller = instrument.vehicle.owner
    for price in ("101.00", "102.00", "103.00"):
        place(seller, instrument, "sell", 10, price)
    buyer = make_trader(cash="5000.00")

    order = place(buyer, instrument, "buy", 25, type="market")

    trades = list(Trade.objects.order_by("pk").values_list("price", "quantity"))
    assert trades == [(Decimal("101.00"), 10), (Decimal("102.00"), 10), (Decimal("103.00"), 5)]
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, 25)
    assert cash(buyer).reserved_amount == Decimal("0.00")
    assert cash(buyer).balance_amount == Decimal("5000.00") - Decimal("2545.00") - Decimal("25.45")


def test_market_order_stops_at_its_protection_price(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    seller = instrument.vehicle.owner
    place(seller, instrument, "sell", 10, "110.00")
    place(seller, instrument, "sell", 10, "110.01")
    buyer = make_trader()

    order = place(buyer, instrument, "buy", 20, type="market")

    assert order.protection_price == Decimal("110.00")
    assert (order.status, order.filled_quantity) == (OrderStatus.CANCELLED, 10)
    assert cash(buyer).reserved_amount == Decimal("0.00")


def test_ioc_partial_fill_cancels_the_rest_and_releases_its_cash(
    continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 10, "100.00")
    buyer = make_trader(cash="5000.00")

    order = place(buyer, instrument, "buy", 30, "100.00", time_in_force="ioc")

    assert (order.status, order.filled_quantity, order.remaining_quantity) == ("cancelled", 10, 20)
    assert cash(buyer).reserved_amount == Decimal("0.00")
    assert cash(buyer).balance_amount == Decimal("5000.00") - Decimal("1010.00")


def test_limit_rest_stays_in_the_book_with_its_reservation(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 10, "100.00")
    buyer = make_trader(cash="5000.00")

    order = place(buyer, instrument, "buy", 30, "100.00")

    assert (order.status, order.remaining_quantity) == (OrderStatus.PARTIALLY_FILLED, 20)
    assert order.reserved_amount == Decimal("2020.00")
    assert cash(buyer).reserved_amount == Decimal("2020.00")


def test_self_cross_is_rejected_and_stores_nothing(continuous_instrument):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    ask = place(owner, instrument, "sell", 10, "100.00")
    cash_deposit(user_id=owner.pk, amount="5000.00")

    with pytest.raises(SelfTrade) as error:
        place(owner, instrument, "buy", 10, "100.00")

    assert str(ask.pk) in error.value.detail
    assert Trade.objects.count() == 0
    assert cash(owner).reserved_amount == Decimal("0.00")


def test_cancel_releases_reserved_cash(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    buyer = make_trader(cash="5000.00")
    order = place(buyer, instrument, "buy", 10, "99.00")
    assert cash(buyer).reserved_amount == Decimal("999.90")

    cancelled = order_cancel(user_id=buyer.pk, order_id=order.pk)

    assert cancelled.status == OrderStatus.CANCELLED
    assert cash(buyer).reserved_amount == Decimal("0.00")


def test_cancel_releases_reserved_shares(continuous_instrument):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    order = place(owner, instrument, "sell", 10, "120.00")
    assert shares(owner, instrument).reserved_quantity == 10

    order_cancel(user_id=owner.pk, order_id=order.pk)

    assert shares(owner, instrument).reserved_quantity == 0


def test_cancel_of_a_closed_order_fails_and_changes_nothing(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    buyer = make_trader()
    order = place(buyer, instrument, "buy", 10, "99.00")
    order_cancel(user_id=buyer.pk, order_id=order.pk)

    with pytest.raises(OrderNotOpen):
        order_cancel(user_id=buyer.pk, order_id=order.pk)


def test_another_users_order_is_not_found(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    order = place(make_trader(), instrument, "buy", 10, "99.00")

    with pytest.raises(OrderNotFound):
        order_cancel(user_id=make_trader().pk, order_id=order.pk)


def test_duplicate_client_order_id_returns_the_first_order(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    buyer = make_trader()
    first = place(buyer, instrument, "buy", 10, "99.00", client_order_id="abc-1")

    again = place(buyer, instrument, "buy", 10, "99.00", client_order_id="abc-1")

    assert again.pk == first.pk
    assert again.was_replayed
    assert cash(buyer).reserved_amount == Decimal("999.90")


def test_same_client_order_id_with_other_content_is_a_conflict(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    buyer = make_trader()
    place(buyer, instrument, "buy", 10, "99.00", client_order_id="abc-1")

    with pytest.raises(DuplicateClientOrderId):
        place(buyer, instrument, "buy", 11, "99.00", client_order_id="abc-1")


def test_buy_beyond_available_cash_is_refused(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    buyer = make_trader(cash="1000.00")

    with pytest.raises(InsufficientCash) as error:
        place(buyer, instrument, "buy", 10, "100.00")

    assert "1010.00" in error.value.detail
    assert cash(buyer).reserved_amount == Decimal("0.00")


def test_sell_beyond_available_shares_is_refused(continuous_instrument, make_trader):
    instrument = continuous_instrument()

    with pytest.raises(InsufficientShares):
        place(make_trader(), instrument, "sell", 1, "100.00")


@pytest.mark.parametrize(
    ("price", "field"),
    [
        ("100.001", "price"),
        ("0.00", "price"),
        ("-5", "price"),
        ("1000000.01", "price"),
        ("abc", "price"),
    ],
)
def test_bad_prices_are_refused_with_a_field_error(
    continuous_instrument, make_trader, price, field
):
    instrument = continuous_instrument()

    with pytest.raises(InvalidOrder) as error:
        place(make_trader(), instrument, "buy", 1, price)

    assert error.value.field == field


def test_orders_on_a_halted_instrument_are_refused(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    instrument.status = InstrumentStatus.HALTED
    instrument.save()

    with pytest.raises(MarketHalted):
        place(make_trader(), instrument, "buy", 1, "100.00")


def test_ioc_in_a_call_phase_is_refused(make_instrument, make_trader, travel):
    travel("09:00")
    instrument = make_instrument()

    with pytest.raises(IocOutsideContinuous):
        place(make_trader(), instrument, "buy", 1, "100.00", time_in_force="ioc")


def test_orders_collect_without_matching_in_the_pre_open(make_instrument, make_trader, travel):
    travel("09:00")
    instrument = make_instrument()
    place(instrument.vehicle.owner, instrument, "sell", 10, "95.00")

    bid = place(make_trader(), instrument, "buy", 10, "105.00")

    assert bid.status == OrderStatus.OPEN
    assert Trade.objects.count() == 0


def test_fee_rounding_never_takes_more_than_the_reservation(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    seller = instrument.vehicle.owner
    buyer = make_trader(cash="198.97")
    bid = place(buyer, instrument, "buy", 2, "98.50")
    assert bid.reserved_amount == Decimal("198.97")

    place(seller, instrument, "sell", 1, "98.50")
    place(seller, instrument, "sell", 1, "98.50")

    bid.refresh_from_db()
    assert bid.status == OrderStatus.FILLED
    assert cash(buyer).balance_amount >= Decimal("0.00")
    assert cash(buyer).reserved_amount == Decimal("0.00")
    assert bid.fees_paid <= Decimal("1.97")


def test_a_rejected_order_is_audited_with_its_reason(continuous_instrument, make_trader):
    instrument = continuous_instrument()
    buyer = make_trader(cash="10.00")

    with pytest.raises(InsufficientCash):
        place(buyer, instrument, "buy", 10, "100.00")

    event = AuditEvent.objects.get(action="order.rejected")
    assert (event.actor_id, event.data["code"]) == (buyer.pk, "insufficient_cash")
