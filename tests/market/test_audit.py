"""The tamper-evident audit trail (market/services/audit.py, `manage.py verify_audit`).

Not under tests/market/services/: those tests check after each one that every chain is intact,
and these break chains on purpose. Tampering goes around the ORM (which refuses to change an
audit event) with raw SQL; on PostgreSQL the immutability trigger is switched off for the one
statement, inside the test's transaction.
"""

from __future__ import annotations

import multiprocessing
import traceback
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from market.errors import InsufficientCash
from market.models import AUDIT_GENESIS_HASH, AuctionKind, AuditChain, AuditEvent
from market.services.auctions import auction_run
from market.services.audit import (
    HASHED_FIELDS,
    audit_chain_name,
    audit_event,
    audit_hash,
    audit_verify,
    audit_write,
)
from market.services.control import market_halt, market_resume
from market.services.ledger import cash_deposit, cash_withdraw
from market.services.orders import order_cancel, order_place
from tests.market.conftest import TRADING_DAY

pytestmark = pytest.mark.django_db


def place(user, instrument, side, quantity, price):
    return order_place(
        user_id=user.pk, symbol=instrument.symbol, side=side, quantity=quantity, price=price
    )


def stored(event: AuditEvent) -> dict[str, object]:
    """What the hash covers, as read back from the database."""
    event = AuditEvent.objects.get(pk=event.pk)
    return {name: getattr(event, name) for name in HASHED_FIELDS}


def raw_sql(sql: str, params: list[int | str]) -> None:
    """Change audit rows behind the ORM's back, as someone with database access could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def verify_command() -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def traded_market(continuous_instrument, make_trader, travel):
    """A day of real activity: a listing and its opening auction, deposits and a withdrawal,
    trades, a cancel, a rejection, a halt and its reopening auction, the closing auction."""
    instrument = continuous_instrument()
    seller = instrument.vehicle.owner
    buyer = make_trader(cash="20000.00")
    cash_deposit(user_id=seller.pk, amount="500.00")
    cash_withdraw(user_id=buyer.pk, amount="100.00")
    place(seller, instrument, "sell", 30, "101.00")
    place(buyer, instrument, "buy", 20, "101.00")
    resting = place(buyer, instrument, "buy", 5, "99.00")
    order_cancel(user_id=buyer.pk, order_id=resting.pk)
    with pytest.raises(InsufficientCash):
        place(make_trader(cash="1.00"), instrument, "buy", 5, "99.00")
    market_halt(symbol=instrument.symbol)
    market_resume(symbol=instrument.symbol)
    place(buyer, instrument, "buy", 5, "101.00")
    travel("16:00")
    auction_run(instrument_id=instrument.pk, trading_date=TRADING_DAY, kind=AuctionKind.CLOSING)
    return instrument


def test_real_trading_leaves_every_chain_intact(traded_market):
    instrument = traded_market

    result = audit_verify()

    assert result.breaks == []
    assert result.is_intact
    names = {chain.name for chain in result.chains}
    assert names == {"market", f"instrument:{instrument.pk}"}
    assert result.events == AuditEvent.objects.count()
    assert {chain.name: chain.events for chain in result.chains} == {
        name: AuditEvent.objects.filter(chain=name).count() for name in names
    }
    actions = set(
        AuditEvent.objects.filter(chain=f"instrument:{instrument.pk}").values_list(
            "action", flat=True
        )
    )
    assert {"instrument.listed", "order.placed", "order.cancelled", "order.rejected"} <= actions
    assert {"auction.opening", "auction.closing", "market.halt", "market.resume"} <= actions
    assert set(AuditEvent.objects.filter(chain="market").values_list("action", flat=True)) == {
        "cash.deposit",
        "cash.withdrawal",
    }


def test_each_event_links_to_the_one_before_and_the_head_to_the_last(traded_market):
    for head in AuditChain.objects.all():
        events = list(AuditEvent.objects.filter(chain=head.name).order_by("seq"))

        assert [event.seq for event in events] == list(range(1, len(events) + 1))
        assert [event.prev_hash for event in events] == [
            AUDIT_GENESIS_HASH,
            *(event.hash for event in events[:-1]),
        ]
        assert (head.last_seq, head.last_hash) == (events[-1].seq, events[-1].hash)


def test_events_of_an_instrument_chain_apart_from_the_rest(make_instrument, make_trader):
    instrument = make_instrument()
    trader = make_trader(cash="10.00")

    listed = AuditEvent.objects.get(action="instrument.listed")
    deposited = AuditEvent.objects.get(action="cash.deposit", data__user_id=trader.pk)

    assert listed.chain == audit_chain_name(instrument.pk) == f"instrument:{instrument.pk}"
    assert deposited.chain == audit_chain_name(None) == "market"


def test_the_hash_covers_exactly_what_is_stored(traded_market):
    for event in AuditEvent.objects.all():
        assert audit_hash(stored(event)) == event.hash


def test_verify_audit_command_prints_a_summary_and_exits_zero(traded_market):
    code, out, err = verify_command()

    assert code == 0
    assert err == ""
    assert out.strip() == f"verify_audit: {audit_verify().summary()}"
    assert "every link holds" in out


def test_an_edited_event_is_named_with_expected_and_stored_hash(traded_market):
    event = AuditEvent.objects.filter(chain="market").order_by("seq").first()
    assert event is not None
    raw_sql(
        "UPDATE market_auditevent SET data = %s WHERE id = %s",
        ['{"amount": "1000000.00", "user_id": 1}', event.pk],
    )

    result = audit_verify()

    [found] = result.breaks
    assert (found.chain, found.event_id, found.seq) == ("market", event.pk, event.seq)
    assert found.problem == "content changed"
    assert found.stored == event.hash
    assert found.expected == audit_hash(stored(event))
    assert found.expected != found.stored
    code, _, err = verify_command()
    assert code == 1
    assert f"market: event {event.pk} (seq {event.seq}): content changed" in err
    assert f"expected {found.expected}, stored {event.hash}" in err


def test_an_edit_that_rehashes_its_event_breaks_the_next_link(traded_market):
    chain = f"instrument:{traded_market.pk}"
    first, second = AuditEvent.objects.filter(chain=chain).order_by("seq")[:2]
    forged_hash = audit_hash({**stored(first), "data": {"total_shares": 1}})
    raw_sql(
        "UPDATE market_auditevent SET data = %s, hash = %s WHERE id = %s",
        ['{"total_shares": 1}', forged_hash, first.pk],
    )

    [found] = audit_verify().breaks

    assert (found.chain, found.event_id, found.seq) == (chain, second.pk, 2)
    assert found.problem == "link to the previous event broken"
    assert (found.expected, found.stored) == (forged_hash, first.hash)


def test_a_deleted_event_leaves_a_gap_that_is_named(traded_market):
    chain = f"instrument:{traded_market.pk}"
    events = list(AuditEvent.objects.filter(chain=chain).order_by("seq")[:4])
    raw_sql("DELETE FROM market_auditevent WHERE id = %s", [events[2].pk])

    [found] = audit_verify().breaks

    assert (found.chain, found.event_id, found.seq) == (chain, events[3].pk, 4)
    assert found.problem == "events missing before this one"
    assert (found.expected, found.stored) == ("seq 3", "seq 4")


def test_a_chain_cut_short_is_found_at_its_head(traded_market):
    head = AuditChain.objects.get(name="market")
    last = AuditEvent.objects.get(chain="market", seq=head.last_seq)
    raw_sql("DELETE FROM market_auditevent WHERE id = %s", [last.pk])

    [found] = audit_verify().breaks

    assert (found.chain, found.event_id) == ("market", None)
    assert found.problem == "events missing at the end of the chain"
    assert found.expected == f"seq {head.last_seq}"
    code, _, err = verify_command()
    assert code == 1
    assert "market: head: events missing at the end of the chain" in err


def test_an_event_written_around_the_chain_is_found(traded_market):
    stray = audit_event(action="order.placed", actor_id=None, note="no chain")
    AuditEvent.objects.bulk_create([stray])

    [found] = audit_verify().breaks

    assert found.event_id == stray.pk
    assert found.problem == "event outside every chain"


def test_events_of_one_write_are_appended_in_order(make_instrument):
    instrument = make_instrument()
    head = AuditChain.objects.get(name=f"instrument:{instrument.pk}")
    events = [
        audit_event(action="test.step", instrument_id=instrument.pk, step=step) for step in range(3)
    ]
    events.insert(1, audit_event(action="test.other", step=99))
    with transaction.atomic():
        audit_write(events)

    chained = AuditEvent.objects.filter(action="test.step").order_by("seq")
    assert [(event.seq, event.data["step"]) for event in chained] == [
        (head.last_seq + 1, 0),
        (head.last_seq + 2, 1),
        (head.last_seq + 3, 2),
    ]
    assert audit_verify().is_intact


def test_events_of_many_chains_are_written_in_as_many_statements_as_of_one(make_instrument):
    instruments = [make_instrument() for _ in range(4)]

    def write(chains):
        events = [audit_event(action="test.step", instrument_id=item.pk) for item in chains]
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            audit_write(events)
        return len(queries)

    assert write(instruments[:1]) == write(instruments)
    # Each head moved to its chain's last event (the check reads every head).
    assert audit_verify().is_intact


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE market_auditevent SET data = '{}' WHERE id = %s",
        "UPDATE market_auditevent SET hash = '' WHERE id = %s",
        "DELETE FROM market_auditevent WHERE id = %s",
    ],
)
def test_postgres_still_refuses_to_change_an_audit_event(traded_market, statement):
    event = AuditEvent.objects.order_by("pk").first()
    assert event is not None

    with (
        pytest.raises(IntegrityError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [event.pk])

    assert audit_verify().is_intact


def _deposit_many(user_ids: list[int], count: int, results: multiprocessing.Queue) -> None:
    connections.close_all()
    try:
        for index in range(count):
            cash_deposit(user_id=user_ids[index % len(user_ids)], amount="1.00")
        results.put(None)
    except Exception:
        results.put(traceback.format_exc())
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_processes_appending_to_one_chain_at_once_keep_it_whole(make_trader):
    """Four processes deposit at once, starting the `market` chain together: its head's row
    lock orders their appends, and the first insert of the head wins without an error."""
    user_ids = [make_trader(cash="0").pk for _ in range(4)]
    assert not AuditChain.objects.filter(name="market").exists()
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()
    workers = [
        context.Process(target=_deposit_many, args=(user_ids, 15, results)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    failures = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    assert failures == [None] * 4
    result = audit_verify()
    assert [str(found) for found in result.breaks] == []
    assert AuditChain.objects.get(name="market").last_seq == 60
    assert result.events == 60
