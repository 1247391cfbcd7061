"""Simulated traders for the demo market (docs/demo.md).

Three kinds of agent, each one of the demo's trader users, trading through `order_place` and
`order_cancel` like everyone else, with their own paper money and shares:

- market makers quote a bid and an ask around the reference price (pulled gently towards the
  listing price), cancelling their previous quotes first: they re-quote as the price moves;
- noise traders send small random limit and market orders, and now and then cancel one;
- momentum traders follow the last trades: they buy a rising price and sell a falling one.

They act in every phase: in a call phase their orders collect for the auction (no
immediate-or-cancel there), in continuous trading they trade at once. An agent never asks for
more cash or shares than it has available; whatever the market still refuses (a self-trade, a
halt) is logged at debug level and skipped.

An agent's decision is a pure function of what it sees (`MarketView`, `Holdings`) and of a
random generator, so `Simulator(seed=...)` replays the same decisions on the same data.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import DatabaseError

from config.errors import DomainError
from market.demo.data import TRADERS, AgentKind
from market.models import (
    OPEN_STATUSES,
    CashAccount,
    Instrument,
    InstrumentStatus,
    Order,
    OrderType,
    Position,
    Side,
    TimeInForce,
    Trade,
)
from market.money import TICK, ZERO, buy_reservation, protection_price
from market.phases import CALL_PHASES, Phase, instrument_phase
from market.services.auctions import market_catch_up
from market.services.book import buyer_rate
from market.services.orders import order_cancel, order_place

logger = logging.getLogger(__name__)

BASIS_POINTS = Decimal(10_000)
RECENT_TRADES = 6
# A tick on the clockwork's thread stops acting after this long, so that it never holds up
# the clock's auctions; the actions left over are dropped, not queued.
TICK_BUDGET_SECONDS = 0.8
CLOCKWORK_EVERY_SECONDS = 1.0
# Share of the gap to the listing price by which market makers lean their quotes.
MEAN_REVERSION_PERCENT = 5


# --- what an agent sees and decides ---------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    user_id: int
    name: str
    kind: AgentKind


@dataclass(frozen=True)
class MarketView:
    symbol: str
    phase: Phase
    reference_price: Decimal
    listing_price: Decimal
    best_bid_price: Decimal | None = None
    best_ask_price: Decimal | None = None
    recent_prices: tuple[Decimal, ...] = ()  # oldest first

    @property
    def is_call(self) -> bool:
        return self.phase in CALL_PHASES


@dataclass(frozen=True)
class RestingOrder:
    order_id: int
    side: str
    price: Decimal | None


@dataclass(frozen=True)
class Holdings:
    cash_available: Decimal
    shares_available: int
    open_orders: tuple[RestingOrder, ...] = ()  # in this instrument, oldest first


@dataclass(frozen=True)
class Place:
    side: str
    type: str
    quantity: int
    price: Decimal | None = None
    time_in_force: str = TimeInForce.DAY


@dataclass(frozen=True)
class Cancel:
    order_id: int


Intent = Place | Cancel


def agent_decide(
    kind: AgentKind, market: MarketView, holdings: Holdings, rng: random.Random
) -> list[Intent]:
    """What an agent does now: cancels first, then orders it can pay for or deliver."""
    decide = DECISIONS[kind]
    return decide(market, holdings, rng)


def _market_maker(market: MarketView, holdings: Holdings, rng: random.Random) -> list[Intent]:
    reference = market.reference_price
    pull = (market.listing_price - reference) * MEAN_REVERSION_PERCENT / 100
    centre = max(TICK, (reference + pull).quantize(TICK, ROUND_DOWN))
    half_spread = rng.randint(25, 120)
    bid_price = shift(centre, -half_spread)
    ask_price = max(shift(centre, half_spread), bid_price + TICK)
    size = rng.randint(2, max(2, int(1200 // centre)))
    intents: list[Intent] = [Cancel(order.order_id) for order in holdings.open_orders]
    bid_quantity = min(size, affordable(bid_price, holdings.cash_available))
    if bid_quantity > 0:
        intents.append(Place(Side.BUY, OrderType.LIMIT, bid_quantity, bid_price))
    ask_quantity = min(size, holdings.shares_available)
    if ask_quantity > 0:
        intents.append(Place(Side.SELL, OrderType.LIMIT, ask_quantity, ask_price))
    return intents


def _noise(market: MarketView, holdings: Holdings, rng: random.Random) -> list[Intent]:
    if holdings.open_orders and rng.randint(1, 5) == 1:
        return [Cancel(holdings.open_orders[0].order_id)]
    side = rng.choice((Side.BUY, Side.SELL))
    if side == Side.SELL and holdings.shares_available == 0:
        side = Side.BUY
    is_market = rng.randint(1, 100) <= (40 if not market.is_call else 15)
    price = None if is_market else shift(market.reference_price, rng.randint(-150, 150))
    time_in_force = TimeInForce.DAY
    if not is_market and not market.is_call and rng.randint(1, 5) == 1:
        time_in_force = TimeInForce.IOC
    wanted = rng.randint(1, max(1, int(600 // market.reference_price)))
    return _order(market, holdings, side, wanted, price, time_in_force)


def _momentum(market: MarketView, holdings: Holdings, rng: random.Random) -> list[Intent]:
    prices = market.recent_prices
    if len(prices) < 3 or prices[-1] == prices[0]:
        return []
    side = Side.BUY if prices[-1] > prices[0] else Side.SELL
    wanted = rng.randint(1, max(1, int(900 // market.reference_price)))
    if market.is_call:
        # Join the auction a little through the price, as a limit: it is a call, not a chase.
        lean = rng.randint(20, 80) * (1 if side == Side.BUY else -1)
        return _order(market, holdings, side, wanted, shift(market.reference_price, lean))
    return _order(market, holdings, side, wanted, None)


def _order(
    market: MarketView,
    holdings: Holdings,
    side: str,
    wanted: int,
    price: Decimal | None,
    time_in_force: str = TimeInForce.DAY,
) -> list[Intent]:
    """One order of at most `wanted` shares that the agent can pay for or deliver, after
    cancelling its own orders on the other side (it would otherwise trade with itself)."""
    opposite = Side.SELL if side == Side.BUY else Side.BUY
    intents: list[Intent] = [
        Cancel(order.order_id) for order in holdings.open_orders if order.side == opposite
    ]
    if side == Side.BUY:
        # A market buy reserves cash at its protection price.
        limit = price or protection_price(
            market.reference_price, Side.BUY, Decimal(settings.MARKET_PROTECTION_RATE)
        )
        quantity = min(wanted, affordable(limit, holdings.cash_available))
    else:
        quantity = min(wanted, holdings.shares_available)
    if quantity <= 0:
        return []
    order_type = OrderType.MARKET if price is None else OrderType.LIMIT
    return [*intents, Place(side, order_type, quantity, price, time_in_force)]


DECISIONS: dict[AgentKind, Callable[[MarketView, Holdings, random.Random], list[Intent]]] = {
    AgentKind.MARKET_MAKER: _market_maker,
    AgentKind.NOISE: _noise,
    AgentKind.MOMENTUM: _momentum,
}


def shift(price: Decimal, basis_points: int) -> Decimal:
    """`price` moved by `basis_points` hundredths of a percent, on the tick."""
    moved = (price * (BASIS_POINTS + basis_points) / BASIS_POINTS).quantize(TICK, ROUND_DOWN)
    return max(TICK, moved)


def affordable(price: Decimal, cash_available: Decimal) -> int:
    """The most shares a buy limited at `price` can reserve cash for (fee included)."""
    if cash_available <= ZERO:
        return 0
    quantity = int(cash_available // (price * (1 + buyer_rate())))
    while quantity > 0 and buy_reservation(price, quantity, buyer_rate()) > cash_available:
        quantity -= 1
    return quantity


# --- the simulator --------------------------------------------------------------------------


@dataclass
class SimulatorStats:
    actions: int = 0
    placed: int = 0
    cancelled: int = 0
    refused: int = 0

    def __str__(self) -> str:
        return (
            f"{self.actions} actions: {self.placed} orders placed, {self.cancelled} cancelled, "
            f"{self.refused} refused by the market"
        )


class Simulator:
    """The demo's trader agents. `step()` acts now; `tick()` acts as much as `rate` (actions
    per second) allows since the last tick (the embedded clock's periodic call); `run()` loops
    in the foreground (`manage.py simulate_market`)."""

    def __init__(self, *, seed: int | None = None, rate: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.rate = max(1, int(rate if rate is not None else settings.MARKET_SIMULATOR_RATE))
        self.stats = SimulatorStats()
        self._agents: list[Agent] | None = None
        self._last_tick: float | None = None
        self._carry = 0.0

    def agents(self) -> list[Agent]:
        """The demo traders that exist (seed_demo makes them), in the data's order."""
        if self._agents is None:
            from accounts.models import User

            found = dict(
                User.objects.filter(
                    username__in=[trader.username for trader in TRADERS]
                ).values_list("username", "pk")
            )
            self._agents = [
                Agent(found[trader.username], trader.display_name, trader.kind)
                for trader in TRADERS
                if trader.username in found
            ]
        return self._agents

    def step(self, *, actions: int = 1) -> SimulatorStats:
        for _ in range(actions):
            self.act()
        return self.stats

    def act(self) -> None:
        """One agent looks at one instrument and acts on it."""
        agents = self.agents()
        instruments = list(Instrument.objects.filter(status=InstrumentStatus.ACTIVE).order_by("pk"))
        if not agents or not instruments:
            return
        agent = self.rng.choice(agents)
        instrument = self.rng.choice(instruments)
        market = market_view(instrument)
        if market.phase not in (Phase.PRE_OPEN, Phase.CONTINUOUS, Phase.CLOSING_CALL):
            return
        self.stats.actions += 1
        holdings = holdings_of(agent.user_id, instrument)
        for intent in agent_decide(agent.kind, market, holdings, self.rng):
            self._carry_out(agent, market, intent)

    def tick(self) -> None:
        """Act as often as the rate allows since the last tick, within TICK_BUDGET_SECONDS."""
        started = time.monotonic()
        elapsed = 1.0 if self._last_tick is None else started - self._last_tick
        self._last_tick = started
        self._carry = min(self._carry + elapsed * self.rate, 2.0 * self.rate)
        due = int(self._carry)
        self._carry -= due
        for _ in range(due):
            if time.monotonic() - started > TICK_BUDGET_SECONDS:
                break
            self.act()

    def run(
        self,
        *,
        seconds: float | None = None,
        catch_up: bool = True,
        stop: threading.Event | None = None,
    ) -> SimulatorStats:
        """Act `rate` times a second until `seconds` have passed or `stop` is set; with
        `catch_up`, run the market clock's catch-up (due auctions) once a second too."""
        stop = stop or threading.Event()
        started = time.monotonic()
        next_catch_up = started
        while not stop.is_set():
            now = time.monotonic()
            if seconds is not None and now - started >= seconds:
                break
            try:
                if catch_up and now >= next_catch_up:
                    market_catch_up()
                    next_catch_up = now + 1.0
                self.act()
            except DatabaseError:
                logger.warning("simulator: a database error; going on", exc_info=True)
            stop.wait(max(0.0, 1.0 / self.rate - (time.monotonic() - now)))
        return self.stats

    def _carry_out(self, agent: Agent, market: MarketView, intent: Intent) -> None:
        try:
            if isinstance(intent, Cancel):
                order_cancel(user_id=agent.user_id, order_id=intent.order_id)
                self.stats.cancelled += 1
            else:
                order_place(
                    user_id=agent.user_id,
                    symbol=market.symbol,
                    side=intent.side,
                    type=intent.type,
                    quantity=intent.quantity,
                    price=intent.price,
                    time_in_force=intent.time_in_force,
                )
                self.stats.placed += 1
        except DomainError as error:
            self.stats.refused += 1
            logger.debug("simulator: %s %s refused: %s", agent.name, intent, error)


def market_view(instrument: Instrument) -> MarketView:
    resting = Order.objects.filter(
        instrument=instrument, status__in=OPEN_STATUSES, price__isnull=False
    )
    best_bid = (
        resting.filter(side=Side.BUY).order_by("-price").values_list("price", flat=True).first()
    )
    best_ask = (
        resting.filter(side=Side.SELL).order_by("price").values_list("price", flat=True).first()
    )
    recent = list(
        Trade.objects.filter(instrument=instrument)
        .order_by("-pk")
        .values_list("price", flat=True)[:RECENT_TRADES]
    )
    return MarketView(
        symbol=instrument.symbol,
        phase=instrument_phase(instrument),
        reference_price=instrument.reference_price,
        listing_price=instrument.listing_price,
        best_bid_price=best_bid,
        best_ask_price=best_ask,
        recent_prices=tuple(reversed(recent)),
    )


def holdings_of(user_id: int, instrument: Instrument) -> Holdings:
    account = CashAccount.objects.filter(user_id=user_id).first()
    position = Position.objects.filter(user_id=user_id, instrument=instrument).first()
    open_orders = Order.objects.filter(
        user_id=user_id, instrument=instrument, status__in=OPEN_STATUSES
    ).order_by("pk")
    return Holdings(
        cash_available=account.available_amount if account is not None else ZERO,
        shares_available=position.available_quantity if position is not None else 0,
        open_orders=tuple(RestingOrder(order.pk, order.side, order.price) for order in open_orders),
    )


# --- the embedded clock's periodic call -----------------------------------------------------

_embedded: Simulator | None = None
_embedded_lock = threading.Lock()


def simulator_tick() -> None:
    """The clockwork's periodic call: one tick of this process's simulator."""
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            seed = settings.MARKET_SIMULATOR_SEED
            _embedded = Simulator(seed=int(seed) if seed != "" else None)
        simulator = _embedded
    simulator.tick()


def register_with_clockwork() -> bool:
    """When MARKET_SIMULATOR_ENABLED, run the simulator on the embedded clock's thread
    (market.clockwork), after each turn's catch-up. Returns whether it registered."""
    if not settings.MARKET_SIMULATOR_ENABLED:
        return False
    try:
        from market import clockwork
    except ImportError:
        return False
    clockwork.register_periodic(simulator_tick, every_seconds=CLOCKWORK_EVERY_SECONDS)
    return True
