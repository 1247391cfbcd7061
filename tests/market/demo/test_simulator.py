"""The simulated traders: what each kind of agent decides, and the simulator's wiring."""

from __future__ import annotations

import io
import random
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from market import clockwork
from market.demo.data import AgentKind
from market.demo.simulator import (
    Cancel,
    Holdings,
    MarketView,
    Place,
    RestingOrder,
    agent_decide,
    register_with_clockwork,
    simulator_tick,
)
from market.models import OrderType, Side, TimeInForce
from market.money import buy_reservation, protection_price
from market.phases import Phase
from market.services.book import buyer_rate

CENTS = Decimal("0.01")
TRADING_PHASES = (Phase.PRE_OPEN, Phase.CONTINUOUS, Phase.CLOSING_CALL)


def market(
    phase: Phase = Phase.CONTINUOUS,
    reference: str = "100.00",
    recent: tuple[str, ...] = (),
) -> MarketView:
    return MarketView(
        symbol="DEMO1",
        phase=phase,
        reference_price=Decimal(reference),
        listing_price=Decimal("100.00"),
        recent_prices=tuple(Decimal(price) for price in recent),
    )


def cash_needed(intent: Place, reference: Decimal) -> Decimal:
    limit = intent.price or protection_price(reference, Side.BUY, Decimal("0.10"))
    return buy_reservation(limit, intent.quantity, buyer_rate())


@given(
    kind=st.sampled_from(list(AgentKind)),
    phase=st.sampled_from(TRADING_PHASES),
    reference_cents=st.integers(min_value=100, max_value=50_000),
    cash_cents=st.integers(min_value=0, max_value=2_000_000),
    shares=st.integers(min_value=0, max_value=60),
    trend=st.sampled_from([(), ("99.00", "99.50", "100.00"), ("101.00", "100.50", "100.00")]),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_agents_never_ask_for_more_cash_or_shares_than_they_have(
    kind, phase, reference_cents, cash_cents, shares, trend, seed
):
    view = market(phase, str(Decimal(reference_cents) * CENTS), trend)
    holdings = Holdings(cash_available=Decimal(cash_cents) * CENTS, shares_available=shares)

    intents = agent_decide(kind, view, holdings, random.Random(seed))

    places = [intent for intent in intents if isinstance(intent, Place)]
    buys = [intent for intent in places if intent.side == Side.BUY]
    sells = [intent for intent in places if intent.side == Side.SELL]
    assert all(intent.quantity >= 1 for intent in places)
    assert len(buys) <= 1
    assert all(cash_needed(buy, view.reference_price) <= holdings.cash_available for buy in buys)
    assert sum(sell.quantity for sell in sells) <= shares
    assert all(
        intent.price is None or intent.price == intent.price.quantize(CENTS) for intent in places
    )


@given(
    kind=st.sampled_from(list(AgentKind)),
    phase=st.sampled_from([Phase.PRE_OPEN, Phase.CLOSING_CALL]),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_agents_send_no_immediate_or_cancel_order_in_a_call_phase(kind, phase, seed):
    holdings = Holdings(cash_available=Decimal("5000.00"), shares_available=20)

    intents = agent_decide(
        kind, market(phase, recent=("99.00", "100.00", "101.00")), holdings, random.Random(seed)
    )

    assert all(
        intent.time_in_force != TimeInForce.IOC for intent in intents if isinstance(intent, Place)
    )


def test_market_makers_cancel_their_quotes_then_quote_both_sides():
    holdings = Holdings(
        cash_available=Decimal("5000.00"),
        shares_available=20,
        open_orders=(
            RestingOrder(7, Side.BUY, Decimal("98.00")),
            RestingOrder(8, Side.SELL, Decimal("102.00")),
        ),
    )

    intents = agent_decide(AgentKind.MARKET_MAKER, market(), holdings, random.Random(1))

    cancels, [bid, ask] = intents[:2], intents[2:]
    assert cancels == [Cancel(7), Cancel(8)]
    assert isinstance(bid, Place)
    assert isinstance(ask, Place)
    assert (bid.side, ask.side) == (Side.BUY, Side.SELL)
    assert bid.price is not None
    assert ask.price is not None
    assert bid.price < Decimal("100.00") < ask.price


@pytest.mark.parametrize(
    ("recent", "side"),
    [(("99.00", "99.60", "100.20"), Side.BUY), (("101.00", "100.40", "99.80"), Side.SELL)],
)
def test_momentum_traders_follow_the_last_moves(recent, side):
    holdings = Holdings(cash_available=Decimal("5000.00"), shares_available=10)

    [intent] = agent_decide(AgentKind.MOMENTUM, market(recent=recent), holdings, random.Random(3))

    assert isinstance(intent, Place)
    assert (intent.side, intent.type) == (side, OrderType.MARKET)


@pytest.mark.parametrize("seed", range(10))
def test_a_noise_trader_cancels_its_opposite_order_before_it_could_meet_it(seed):
    holdings = Holdings(
        cash_available=Decimal("5000.00"),
        shares_available=0,
        open_orders=(RestingOrder(9, Side.SELL, Decimal("100.50")),),
    )

    intents = agent_decide(AgentKind.NOISE, market(), holdings, random.Random(seed))

    assert intents[0] == Cancel(9)
    assert all(intent.side == Side.BUY for intent in intents if isinstance(intent, Place))


def test_the_same_seed_makes_the_same_decisions():
    holdings = Holdings(cash_available=Decimal("5000.00"), shares_available=10)
    view = market(recent=("99.00", "100.00", "101.00"))

    def decisions(seed: int) -> list[object]:
        rng = random.Random(seed)
        return [agent_decide(kind, view, holdings, rng) for kind in list(AgentKind) * 20]

    assert decisions(42) == decisions(42)
    assert decisions(42) != decisions(43)


def test_the_embedded_simulator_registers_with_the_clock_only_when_enabled(settings):
    settings.MARKET_SIMULATOR_ENABLED = False
    assert register_with_clockwork() is False
    assert simulator_tick not in clockwork.periodic_callables()

    settings.MARKET_SIMULATOR_ENABLED = True
    try:
        assert register_with_clockwork() is True
        assert simulator_tick in clockwork.periodic_callables()
    finally:
        clockwork.unregister_periodic(simulator_tick)


@pytest.mark.usefixtures("db")
def test_simulate_market_needs_the_demo_traders():
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("simulate_market", "--seconds", "1", stdout=io.StringIO())
