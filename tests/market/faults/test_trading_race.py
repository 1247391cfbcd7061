"""Eight processes race crossing orders and cancels on two instruments for 30 seconds (issue
#11, fault a).

The time-boxed sibling of tests/market/services/test_concurrency.py (a fixed number of commands,
four processes): real processes, each with its own database connection, sending orders and
cancels through the service layer as fast as they can, so that the instrument locks and the
cash account locks are all that keeps the books right. Every command ends in exactly one way:
accepted (the order comes back), or rejected with a business error; anything else is a bug. At
the end the books reconcile, the audit chains verify, and no accepted order is lost.
"""

from __future__ import annotations

import multiprocessing
import random
import time
import traceback
from collections import Counter

import pytest
from django.db import connections

from config.errors import DomainError
from market.services.ledger import cash_deposit
from market.services.orders import order_cancel
from tests.market.faults.checks import EXPECTED_REJECTIONS, books_problems, lost_orders
from tests.market.faults.conftest import report
from tests.market.random_orders import place_random_order

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

PROCESSES = 8
SECONDS = 30.0


def _trade_until(
    deadline: float, seed: int, user_ids: list[int], symbols: list[str], results
) -> None:
    connections.close_all()
    rng = random.Random(seed)
    attempted = 0
    accepted: list[int] = []
    rejected: Counter[str] = Counter()
    cancels: Counter[str] = Counter()
    unexpected: list[str] = []
    own: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    try:
        while time.monotonic() < deadline:
            user_id = rng.choice(user_ids)
            if own[user_id] and rng.random() < 0.25:
                order_id = own[user_id].pop(rng.randrange(len(own[user_id])))
                try:
                    order_cancel(user_id=user_id, order_id=order_id)
                    cancels["cancelled"] += 1
                except DomainError as error:
                    cancels[error.code] += 1
                except Exception:
                    unexpected.append(traceback.format_exc())
                continue
            attempted += 1
            try:
                order = place_random_order(rng, user_id, symbols)
            except DomainError as error:
                rejected[error.code] += 1
            except Exception:
                unexpected.append(traceback.format_exc())
            else:
                accepted.append(order.pk)
                if order.is_open:
                    own[user_id].append(order.pk)
    finally:
        connections.close_all()
        results.put((attempted, accepted, rejected, cancels, unexpected))


def test_eight_processes_trading_for_thirty_seconds_lose_nothing(
    continuous_instrument, make_trader
):
    instruments = [continuous_instrument(total_shares=10_000) for _ in range(2)]
    traders = [make_trader(cash="50000.00") for _ in range(6)]
    owners = [instrument.vehicle.owner for instrument in instruments]
    for owner in owners:
        cash_deposit(user_id=owner.pk, amount="50000.00")
    user_ids = [user.pk for user in traders + owners]
    symbols = [instrument.symbol for instrument in instruments]
    connections.close_all()  # the children must not share this process's connection
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    deadline = time.monotonic() + SECONDS
    workers = [
        context.Process(target=_trade_until, args=(deadline, seed, user_ids, symbols, results))
        for seed in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    collected = [results.get(timeout=SECONDS + 300) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    attempted = sum(found[0] for found in collected)
    accepted = [pk for found in collected for pk in found[1]]
    rejected: Counter[str] = sum((found[2] for found in collected), Counter())
    cancels: Counter[str] = sum((found[3] for found in collected), Counter())
    unexpected = [trace for found in collected for trace in found[4]]
    lost = lost_orders(accepted)
    report(
        f"{PROCESSES} processes, {SECONDS:.0f} s",
        {
            "orders attempted": attempted,
            "accepted": len(accepted),
            "rejected": sum(rejected.values()),
            "lost": len(lost) + (attempted - len(accepted) - sum(rejected.values())),
            "rejections": dict(rejected),
            "cancels": dict(cancels),
            "unexpected": len(unexpected),
        },
    )
    assert unexpected == []
    assert attempted == len(accepted) + sum(rejected.values()), "every order accepted or rejected"
    assert len(set(accepted)) == len(accepted)
    assert lost == []
    assert set(rejected) <= EXPECTED_REJECTIONS
    assert set(cancels) <= {"cancelled", "order_not_open"}
    assert books_problems() == []
    assert len(accepted) >= 50, f"too little traffic to prove anything: {len(accepted)} orders"
