"""Races through the REST API on PostgreSQL (issue #11).

Real processes, each running several request threads, each thread with its own database
connection, all released at once by one barrier per round: the requests of a round really are
in flight together. Rounds reuse the same processes (a barrier per round, not a process per
round). After each race, the books reconcile and the audit chains verify (the API conftest
checks it after every test as well).

- a user with $100 sends 30 buys needing $60 each, spread over three instruments (so the cash
  account lock decides, not one instrument's lock): exactly one is accepted; and at the same
  moment a user with one share sends 30 sells of it: exactly one is accepted; 100 rounds (the
  costliest test: 6,000 requests, each refusal a whole request);
- a cancel races the fill of the same order: the order ends in exactly one final state, the
  answers agree with it, the reservation is released once (reconcile), 100 races;
- the same client_order_id sent 10 times at once: one order, every answer names it.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from market.models import Order, Trade
from market.services.orders import order_place
from tests.market.faults.checks import books_problems

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROUNDS = 100
# Ten processes of up to six request threads: the sixty parties of the largest round.
PROCESSES = 10
ORDERS_URL = "/api/v1/orders/"


@dataclass(frozen=True)
class Call:
    """One API request of a round."""

    token: str
    method: str  # "post" or "delete"
    path: str
    body: dict[str, Any] | None = None


Answer = tuple[int, dict[str, Any]]


def _party(
    party: int,
    rounds: list[list[Call]],
    barrier: threading.Barrier,
    answers: dict[tuple[int, int], Answer],
    failures: list[str],
) -> None:
    clients: dict[str, APIClient] = {}
    try:
        for number, calls in enumerate(rounds):
            barrier.wait(timeout=120)
            if party >= len(calls):
                continue
            call = calls[party]
            client = clients.get(call.token)
            if client is None:
                client = clients[call.token] = APIClient()
                client.credentials(HTTP_AUTHORIZATION=f"Token {call.token}")
            if call.method == "post":
                response = client.post(call.path, call.body, format="json")
            else:
                response = client.delete(call.path)
            answers[(number, party)] = (response.status_code, response.json())
    except Exception:
        failures.append(traceback.format_exc())
        barrier.abort()
    finally:
        connections.close_all()


def _process(
    parties: list[int],
    rounds: list[list[Call]],
    barrier: threading.Barrier,
    results: multiprocessing.Queue,
) -> None:
    connections.close_all()
    answers: dict[tuple[int, int], Answer] = {}
    failures: list[str] = []
    threads = [
        threading.Thread(target=_party, args=(party, rounds, barrier, answers, failures))
        for party in parties
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((answers, failures))


def fire(rounds: list[list[Call]], processes: int = PROCESSES) -> list[list[Answer]]:
    """Send each round's calls at once (call i by party i), round after round; the answers,
    round by round, in call order."""
    parties = max(len(calls) for calls in rounds)
    connections.close_all()  # the children must not share this process's connection
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(parties)
    results: multiprocessing.Queue = context.Queue()
    workers = [
        context.Process(
            target=_process, args=(list(range(n, parties, processes)), rounds, barrier, results)
        )
        for n in range(min(processes, parties))
    ]
    for worker in workers:
        worker.start()
    answers: dict[tuple[int, int], Answer] = {}
    failures: list[str] = []
    for _ in workers:
        found, failed = results.get(timeout=600)
        answers.update(found)
        failures += failed
    for worker in workers:
        worker.join(timeout=30)
    assert failures == []
    return [
        [answers[(number, party)] for party in range(len(calls))]
        for number, calls in enumerate(rounds)
    ]


def token_of(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def buy(token: str, symbol: str, quantity: int, price: str, **extra: Any) -> Call:
    body = {"symbol": symbol, "side": "buy", "quantity": quantity, "price": price, **extra}
    return Call(token, "post", ORDERS_URL, body)


def sell(token: str, symbol: str, quantity: int, price: str, **extra: Any) -> Call:
    body = {"symbol": symbol, "side": "sell", "quantity": quantity, "price": price, **extra}
    return Call(token, "post", ORDERS_URL, body)


def statuses(answers: list[Answer]) -> Counter[tuple[int, str]]:
    return Counter((status, body.get("code") or body.get("status")) for status, body in answers)


def assert_books_balance() -> None:
    assert books_problems() == []


def test_thirty_buys_of_one_hundred_dollars_and_thirty_sells_of_one_share_accept_one_each(
    continuous_instrument, make_trader
):
    """Each round, at once: a buyer with $100 sends 30 buys needing $59.59 each ($59.00 and the
    1% buyer's fee; two would need $119.18), spread over three instruments so that the cash
    account lock decides, not one instrument's lock; and a seller holding one share sends 30
    sells of it. The two races of a round run side by side (other users, other locks)."""
    instruments = [continuous_instrument() for _ in range(3)]
    sold = instruments[0]
    buyers = [make_trader(cash="100.00") for _ in range(ROUNDS)]
    sellers = [make_trader(cash="100.00") for _ in range(ROUNDS)]
    order_place(
        user_id=sold.vehicle.owner.pk,
        symbol=sold.symbol,
        side="sell",
        quantity=ROUNDS,
        price="50.00",
    )
    for seller in sellers:  # one share each
        order_place(user_id=seller.pk, symbol=sold.symbol, side="buy", quantity=1, price="50.00")
    placed_before = Order.objects.count()
    rounds = [
        [buy(token_of(buyer), instruments[n % 3].symbol, 1, "59.00") for n in range(30)]
        + [sell(token_of(seller), sold.symbol, 1, "70.00") for _ in range(30)]
        for buyer, seller in zip(buyers, sellers, strict=True)
    ]

    answered = fire(rounds)

    for answers in answered:
        assert statuses(answers[:30]) == {(201, "open"): 1, (409, "insufficient_cash"): 29}
        assert statuses(answers[30:]) == {(201, "open"): 1, (409, "insufficient_shares"): 29}
    new_orders = Order.objects.order_by("pk")[placed_before:]
    assert sorted(order.user_id for order in new_orders) == sorted(
        user.pk for user in buyers + sellers
    )
    assert_books_balance()


def test_a_cancel_racing_a_fill_ends_the_order_once(continuous_instrument, make_trader):
    """Five races per round (one per instrument, so that a taker can reach only its own maker's
    order), twenty rounds: the maker cancels its resting sell while the taker sends an
    immediate-or-cancel buy for part or all of it."""
    pairs_per_round, rounds_count = 5, 20
    instruments = [continuous_instrument() for _ in range(pairs_per_round)]
    takers = [make_trader(cash="100000.00") for _ in range(pairs_per_round)]
    races: list[tuple[Order, int]] = []
    rounds = []
    for number in range(rounds_count):
        calls = []
        for pair, instrument in enumerate(instruments):
            maker = instrument.vehicle.owner
            price = str(Decimal("100.00") + number)
            resting = order_place(
                user_id=maker.pk, symbol=instrument.symbol, side="sell", quantity=5, price=price
            )
            taken = 5 if (number + pair) % 2 else 3
            races.append((resting, taken))
            calls += [
                Call(token_of(maker), "delete", f"{ORDERS_URL}{resting.pk}/"),
                buy(token_of(takers[pair]), instrument.symbol, taken, price, time_in_force="ioc"),
            ]
        rounds.append(calls)
    # Every round ends each of its orders (cancelled or filled), and each round's price is
    # higher than the last: a taker cannot reach a later round's order.

    answered = fire(rounds)

    outcomes: Counter[str] = Counter()
    for (resting, taken), (cancelled, bought) in zip(races, _pairs(answered), strict=True):
        resting.refresh_from_db()
        traded = Trade.objects.filter(sell_order=resting).values_list("quantity", flat=True)
        outcome = (
            cancelled[0],
            cancelled[1].get("status") or cancelled[1].get("code"),
            resting.status,
            resting.filled_quantity,
            sum(traded),
            bought[0],
            bought[1]["status"],
            bought[1]["filled_quantity"],
        )
        assert outcome in RACE_ENDINGS[taken], outcome
        outcomes[RACE_ENDINGS[taken][outcome]] += 1
    print(f"cancel against fill, {len(races)} races: {dict(outcomes)}")
    assert_books_balance()


# Every way a race may end, by the quantity the taker asks: (cancel's answer, the resting
# order's status and filled quantity, its trades' quantity, the buy's answer, status and fill).
RACE_ENDINGS = {
    3: {
        (200, "cancelled", "cancelled", 0, 0, 201, "cancelled", 0): "cancelled first",
        (200, "cancelled", "cancelled", 3, 3, 201, "filled", 3): "part filled, rest cancelled",
    },
    5: {
        (200, "cancelled", "cancelled", 0, 0, 201, "cancelled", 0): "cancelled first",
        (409, "order_not_open", "filled", 5, 5, 201, "filled", 5): "filled first, cancel refused",
    },
}


def _pairs(answered: list[list[Answer]]) -> list[tuple[Answer, Answer]]:
    """Each race's (cancel, buy) answers, race by race."""
    flat = [answer for answers in answered for answer in answers]
    return list(zip(flat[::2], flat[1::2], strict=True))


def test_one_client_order_id_sent_ten_times_at_once_makes_one_order(
    continuous_instrument, make_trader
):
    rounds_count = 20
    instrument = continuous_instrument()
    users = [make_trader(cash="10000.00") for _ in range(rounds_count)]
    rounds = [
        [buy(token_of(user), instrument.symbol, 10, "99.00", client_order_id=f"same-{n}")] * 10
        for n, user in enumerate(users)
    ]

    answered = fire(rounds)

    for user, answers in zip(users, answered, strict=True):
        order = Order.objects.get(user=user)
        assert order.client_order_id is not None
        assert {body["id"] for _, body in answers} == {order.pk}
        assert sorted(status for status, _ in answers) == [200] * 9 + [201]
    assert Order.objects.count() == rounds_count
    assert_books_balance()
