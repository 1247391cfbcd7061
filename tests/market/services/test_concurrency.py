"""Several processes race crossing orders and cancels against PostgreSQL.

Real processes (not threads), each with its own database connection, so the instrument row
lock and the account locks are what keeps the books right. Afterwards every invariant holds,
no order is overfilled, every accepted order is accounted for, and the audit chains the
processes appended to at once are unbroken.
"""

from __future__ import annotations

import multiprocessing
import random
import traceback

import pytest
from django.db import connections
from django.db.models import F

from config.errors import DomainError
from market.models import Order, OrderStatus, Trade
from market.services.audit import audit_verify
from market.services.ledger import cash_deposit
from market.services.orders import order_cancel
from market.services.reconcile import reconcile
from tests.market.random_orders import place_random_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]

# A fixed amount of work per process, not a time window: a loaded machine runs it slower, never
# differently.
COMMANDS_PER_PROCESS = 60
# The business answers a random stream of orders can get; anything else is a bug.
EXPECTED_REJECTIONS = {"insufficient_cash", "insufficient_shares", "self_trade", "order_not_open"}


def _trade_randomly(
    seed: int, user_ids: list[int], symbols: list[str], results: multiprocessing.Queue
) -> None:
    connections.close_all()
    rng = random.Random(seed)
    accepted: list[int] = []
    own: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    rejected: dict[str, int] = {}
    unexpected: list[str] = []
    try:
        for _ in range(COMMANDS_PER_PROCESS):
            user_id = rng.choice(user_ids)
            try:
                if own[user_id] and rng.random() < 0.25:
                    order_cancel(user_id=user_id, order_id=rng.choice(own[user_id]))
                    continue
                order = place_random_order(rng, user_id, symbols)
                accepted.append(order.pk)
                own[user_id].append(order.pk)
            except DomainError as error:
                rejected[error.code] = rejected.get(error.code, 0) + 1
            except Exception:
                unexpected.append(traceback.format_exc())
    finally:
        connections.close_all()
        results.put((accepted, rejected, unexpected))


def _race(
    user_ids: list[int], symbols: list[str], processes: int = 4
) -> tuple[list[int], dict[str, int], list[str]]:
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()
    workers = [
        context.Process(target=_trade_randomly, args=(seed, user_ids, symbols, results))
        for seed in range(processes)
    ]
    for worker in workers:
        worker.start()
    collected = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    accepted = [pk for found, _, _ in collected for pk in found]
    rejected: dict[str, int] = {}
    for _, counts, _ in collected:
        for code, count in counts.items():
            rejected[code] = rejected.get(code, 0) + count
    unexpected = [trace for _, _, traces in collected for trace in traces]
    return accepted, rejected, unexpected


@pytest.fixture
def crowded_market(continuous_instrument, make_trader):
    def build(instruments: int) -> tuple[list[int], list[str]]:
        listed = [continuous_instrument() for _ in range(instruments)]
        traders = [make_trader(cash="20000.00") for _ in range(6)]
        owners = [instrument.vehicle.owner for instrument in listed]
        for owner in owners:
            cash_deposit(user_id=owner.pk, amount="20000.00")
        return [user.pk for user in traders + owners], [instrument.symbol for instrument in listed]

    return build


@pytest.mark.parametrize("instruments", [1, 3])
def test_racing_processes_keep_every_invariant(crowded_market, instruments):
    user_ids, symbols = crowded_market(instruments)

    accepted, rejected, unexpected = _race(user_ids, symbols)

    print(f"accepted {len(accepted)}, rejected {rejected}, unexpected {len(unexpected)}")
    assert unexpected == []
    assert set(rejected) <= EXPECTED_REJECTIONS
    assert [str(found) for found in reconcile()] == []
    verification = audit_verify()
    assert [str(found) for found in verification.breaks] == []
    assert verification.events >= len(accepted), "every accepted order is in the audit trail"
    assert len(accepted) >= 40, f"too little traffic to prove anything: {len(accepted)} orders"
    assert Trade.objects.exists()
    stored = set(Order.objects.filter(pk__in=accepted).values_list("pk", flat=True))
    assert stored == set(accepted), "every accepted order is stored"
    assert (
        not Order.objects.filter(status=OrderStatus.FILLED)
        .exclude(filled_quantity=F("quantity"))
        .exists()
    )
