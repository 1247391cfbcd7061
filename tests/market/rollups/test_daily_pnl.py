"""Daily P&L to the cent: the worked examples of MARKET_RULES 7, built through the services."""

from datetime import date
from decimal import Decimal

import pytest

from market.models import Position, Trade, TradeKind
from market.rollup_models import DailyResult
from market.services.auctions import market_catch_up
from market.services.ledger import cash_deposit, cash_withdraw
from market.services.rollups import rollup_run
from tests.market.conftest import TRADING_DAY
from tests.market.rollups.conftest import place

pytestmark = pytest.mark.django_db

NEXT_DAY = date(2026, 11, 19)


def result(user, day=TRADING_DAY) -> DailyResult:
    return DailyResult.objects.get(user=user, trading_date=day)


@pytest.fixture
def listed_and_sold_at_the_open(travel, make_trader, make_instrument):
    """The seller lists 1,000 @ $100.00 in the pre-open and offers 300 @ $98.00; a buyer bids
    300 @ $98.00, so the opening auction prices at $98.00; in the closing call the buyer offers
    100 @ $105.00 to a third trader, so the close is $105.00."""
    travel("09:00")
    seller = make_trader(cash="0", name="seller")
    instrument = make_instrument(owner=seller, total_shares=1000, listing_price="100.00")
    buyer = make_trader(cash="50000.00", name="buyer")
    closer = make_trader(cash="20000.00", name="closer")
    place(seller, instrument, "sell", 300, "98.00")
    place(buyer, instrument, "buy", 300, "98.00")
    travel("09:30")
    market_catch_up()
    travel("15:56")
    place(buyer, instrument, "sell", 100, "105.00")
    place(closer, instrument, "buy", 100, "105.00")
    travel("16:01")
    market_catch_up()
    return seller, buyer, closer, instrument


def test_listing_is_a_contribution_and_the_seller_earns_only_the_price_move_less_fees(
    listed_and_sold_at_the_open,
):
    seller, _, _, instrument = listed_and_sold_at_the_open

    [run] = rollup_run()

    opening = Trade.objects.get(kind=TradeKind.OPENING_AUCTION)
    assert (opening.price, opening.quantity) == (Decimal("98.00"), 300)
    assert opening.seller_fee_amount == Decimal("294.00")
    assert Trade.objects.get(kind=TradeKind.CLOSING_AUCTION).price == Decimal("105.00")
    line = result(seller)
    assert run.trading_date == TRADING_DAY
    # 300 x 98.00 = 29,400.00 less the 1% fee of 294.00
    assert line.cash_amount == Decimal("29106.00")
    # 700 shares at the closing price
    assert line.positions_amount == Decimal("73500.00")
    assert line.equity_close_amount == Decimal("102606.00")
    assert line.equity_previous_amount == Decimal("0.00")
    # 1,000 x 100.00: the listing, never profit
    assert line.contributions_amount == Decimal("100000.00")
    # realized 29,106.00 - 30,000.00 = -894.00, unrealized 73,500.00 - 70,000.00 = 3,500.00
    assert line.pnl_amount == Decimal("2606.00")
    assert line.pnl_percent == Decimal("2.61")
    position = Position.objects.get(user=seller, instrument=instrument)
    assert position.realized_pnl_amount == Decimal("-894.00")
    assert line.positions_amount - position.cost_basis_amount == Decimal("3500.00")


def test_every_trader_of_the_day_gets_a_result_and_the_board_ranks_by_pnl(
    listed_and_sold_at_the_open,
):
    seller, buyer, closer, _ = listed_and_sold_at_the_open

    rollup_run()

    # buyer: 50,000.00 in, bought 300 @ 98.00 for 29,694.00 with the fee, sold 100 @ 105.00 for
    # 10,395.00 after it; holds 200 @ 105.00.
    assert (result(buyer).cash_amount, result(buyer).positions_amount) == (
        Decimal("30701.00"),
        Decimal("21000.00"),
    )
    assert result(buyer).pnl_amount == Decimal("1701.00")
    # closer: paid 10,500.00 + 105.00; the shares are worth what was paid: down the fee.
    assert result(closer).pnl_amount == Decimal("-105.00")
    assert [(line.user_id, line.rank) for line in DailyResult.objects.order_by("rank")] == [
        (seller.pk, 1),
        (buyer.pk, 2),
        (closer.pk, 3),
    ]


def test_buyer_pnl_is_realized_plus_unrealized_at_the_closing_price(
    continuous_instrument, make_trader, travel
):
    instrument = continuous_instrument()
    owner = instrument.vehicle.owner
    buyer = make_trader(cash="30000.00", name="buyer")
    bidder = make_trader(cash="10000.00", name="bidder")
    closer = make_trader(cash="10000.00", name="closer")
    place(owner, instrument, "sell", 100, "100.00")
    place(buyer, instrument, "buy", 100, "100.00")
    place(owner, instrument, "sell", 100, "110.00")
    place(buyer, instrument, "buy", 100, "110.00")
    place(bidder, instrument, "buy", 50, "120.00")
    place(buyer, instrument, "sell", 50, "120.00")
    travel("15:56")
    place(owner, instrument, "sell", 10, "115.00")
    place(closer, instrument, "buy", 10, "115.00")
    travel("16:01")
    market_catch_up()

    rollup_run()

    position = Position.objects.get(user=buyer, instrument=instrument)
    # cost 10,000.00 + 100.00 + 11,000.00 + 110.00 = 21,210.00: average 106.05
    # sold 50 for 6,000.00 - 60.00 = 5,940.00 against 50 x 106.05 = 5,302.50
    assert position.realized_pnl_amount == Decimal("637.50")
    assert (position.quantity, position.cost_basis_amount) == (150, Decimal("15907.50"))
    line = result(buyer)
    assert line.positions_amount == Decimal("17250.00")  # 150 x 115.00
    assert line.positions_amount - position.cost_basis_amount == Decimal("1342.50")
    assert line.cash_amount == Decimal("14730.00")
    # the deposit of the day is a contribution: the P&L is realized + unrealized
    assert line.contributions_amount == Decimal("30000.00")
    assert line.pnl_amount == Decimal("637.50") + Decimal("1342.50")
    assert line.pnl_percent == Decimal("6.60")


def test_deposits_and_withdrawals_during_the_day_are_not_pnl(
    listed_and_sold_at_the_open, make_trader, travel
):
    seller, buyer, _, _ = listed_and_sold_at_the_open
    travel("16:30")
    cash_deposit(user_id=buyer.pk, amount="1000.00")  # after the close: the next day's
    travel("11:00", NEXT_DAY)
    cash_deposit(user_id=buyer.pk, amount="5000.00")
    travel("14:00", NEXT_DAY)
    cash_withdraw(user_id=buyer.pk, amount="2000.00")
    travel("16:01", NEXT_DAY)
    market_catch_up()

    runs = rollup_run()

    assert [run.trading_date for run in runs] == [TRADING_DAY, NEXT_DAY]
    first, second = result(buyer), result(buyer, NEXT_DAY)
    assert first.pnl_amount == Decimal("1701.00")
    assert (first.equity_close_amount, first.contributions_amount) == (
        Decimal("51701.00"),
        Decimal("50000.00"),
    )
    assert second.equity_previous_amount == Decimal("51701.00")
    assert second.contributions_amount == Decimal("4000.00")
    assert second.equity_close_amount == Decimal("55701.00")
    assert (second.pnl_amount, second.pnl_percent) == (Decimal("0.00"), Decimal("0.00"))
    assert result(seller, NEXT_DAY).pnl_amount == Decimal("0.00")
