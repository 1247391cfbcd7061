"""A whole compressed trading day on the demo clock: the seeded market, the simulated traders,
the clock's catch-up at every step; both auctions run, trades happen, the books reconcile, and
the nightly rollup freezes the day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from market.demo.seed import demo_seed
from market.demo.simulator import Simulator
from market.models import AuctionKind, AuctionRecord, Instrument, Trade, TradeKind
from market.services.auctions import market_catch_up
from market.services.audit import audit_verify
from market.services.reconcile import reconcile
from market.services.rollups import rollup_run
from tests.market.demo.conftest import clear_clock_caches

DAY_SECONDS = 200
# Cycle 0 of the demo clock is Wednesday 2026-11-18; its history day is the Tuesday before.
EPOCH = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
DAY = date(2026, 11, 18)
HISTORY_DAY = date(2026, 11, 17)
# (real seconds into the cycle, actions): the demo cycle gives 10% of it to the pre-open, 75%
# to continuous trading, 10% to the closing call; the call phases get more actions per second.
STEPS = (
    [(second, 6) for second in range(2, 20, 3)]
    + [(second, 3) for second in range(24, 170, 10)]
    + [(second, 6) for second in range(172, 190, 3)]
)


@pytest.fixture
def demo_clock(settings) -> None:
    settings.MARKET_DEMO_DAY_SECONDS = DAY_SECONDS
    settings.MARKET_DEMO_EPOCH = EPOCH.isoformat()
    settings.MARKET_DEMO_START_DATE = DAY.isoformat()
    clear_clock_caches()


@pytest.mark.usefixtures("db", "demo_clock")
def test_a_compressed_day_runs_both_auctions_trades_and_reconciles():
    with time_machine.travel(EPOCH + timedelta(seconds=1), tick=False) as traveller:
        demo_seed(history_trades=2)
        simulator = Simulator(seed=2026)
        for second, actions in STEPS:
            traveller.move_to(EPOCH + timedelta(seconds=second))
            market_catch_up()
            simulator.step(actions=actions)
        traveller.move_to(EPOCH + timedelta(seconds=DAY_SECONDS - 1))
        market_catch_up()
        frozen = {run.trading_date for run in rollup_run()}

    auctions = AuctionRecord.objects.filter(trading_date=DAY)
    trades = Trade.objects.filter(trading_date=DAY)
    instruments = Instrument.objects.count()
    assert auctions.filter(kind=AuctionKind.OPENING).count() == instruments
    assert auctions.filter(kind=AuctionKind.CLOSING).count() == instruments
    assert trades.filter(kind=TradeKind.OPENING_AUCTION).exists()
    assert trades.filter(kind=TradeKind.CONTINUOUS).exists()
    assert trades.filter(kind=TradeKind.CLOSING_AUCTION).exists()
    assert simulator.stats.placed > simulator.stats.refused
    assert simulator.stats.cancelled > 0
    assert [str(found) for found in reconcile()] == []
    assert [str(found) for found in audit_verify().breaks] == []
    assert frozen == {HISTORY_DAY, DAY}
