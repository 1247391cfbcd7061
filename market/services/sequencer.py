"""Flat combining: concurrent commands share one transaction, one step and one commit.

A transaction per order that holds the book lock through its commit cannot pass ~300 orders/s
on one instrument: the lock is held while the commit waits for the disk. Here, within a process,
the first request thread becomes the combiner: it takes every command queued (its own and those
that arrived meanwhile, for any instrument), runs them as one step of every instrument it can
lock (`book_execute_many`), hands each waiting thread its outcome, and passes the combiner role
to a waiting thread if more commands arrived, so no request serves others for long. Every
acknowledged order is durable: the outcome is handed back only after its step has committed.

Across processes the instrument row locks still serialize the steps of one instrument. A step
waits for at most one of them, the first it needs, before it holds any; the others it takes only
if they are free (`SKIP LOCKED`), so a busy instrument, or one in its auction, holds up only its
own commands, and no two steps can deadlock. A command left out that way goes back to the head
of the queue, and the next step waits for its instrument, so none is passed over twice.

The waiting requests get their outcomes, and the next combiner its turn, the moment the step
commits: before the step's other after-commit work (the real-time relay, market/relay.py),
which the combiner then does on its own time. Otherwise every request of the step, and the
process's next step, would wait for one relay transaction per stream the step touched (make
bench measured it; docs/benchmarks.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction

from market import locks
from market.errors import DomainError, InstrumentNotFound
from market.models import Instrument

MAX_BATCH = 256

# A runner's outcome for a command whose instrument another step held: it goes back in line.
NOT_RUN = object()


@dataclass(eq=False)
class _Slot:
    key: str
    command: object
    # Set when the slot has its outcome, or when its thread is handed the combiner role.
    done: threading.Event = field(default_factory=threading.Event)
    finished: bool = False
    outcome: object = None
    error: BaseException | None = None
    passed_over: int = 0

    def result(self) -> object:
        if self.error is not None:
            raise self.error
        return self.outcome


Entry = tuple[str, object]  # an instrument's symbol and a command
# A runner takes the entries and whether it must wait for the first entry's instrument; it
# returns an outcome per entry, NOT_RUN for those it left out, running at least one.
BatchRunner = Callable[[list[Entry], bool], list[object]]
# A runner that also takes a callback to call with the outcomes as soon as the batch commits.
ReleasingBatchRunner = Callable[[list[Entry], bool, Callable[[list[object]], None]], list[object]]


class Sequencer:
    def __init__(
        self,
        run_batch: BatchRunner | None = None,
        *,
        run_releasing_batch: ReleasingBatchRunner | None = None,
    ):
        assert (run_batch is None) != (run_releasing_batch is None), "one batch runner"
        self._run_batch = run_batch
        self._run_releasing_batch = run_releasing_batch
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._combining = False

    def submit(self, key: str, command: object) -> object:
        """Run `command` for instrument `key` in a coming batch; its outcome once committed."""
        slot = _Slot(key, command)
        with self._lock:
            self._queue.append(slot)
            leads = not self._combining
            self._combining = True
        while not slot.finished:
            if not leads:
                _lend_back_connection()
                slot.done.wait()
                if slot.finished:
                    break
            # This thread combines: its slot is at the head of the queue.
            slot.done.clear()
            self._combine()
            leads = False  # if its own command was left out, it waits for its turn again
        return slot.result()

    def _combine(self) -> None:
        with self._lock:
            batch = self._queue[:MAX_BATCH]
            del self._queue[: len(batch)]
        wait_for_first = batch[0].passed_over > 0
        released = False

        def release(outcomes: list[object]) -> None:
            nonlocal released
            released = True
            self._settle(batch, outcomes)

        entries = [(slot.key, slot.command) for slot in batch]
        try:
            if self._run_releasing_batch is not None:
                outcomes = self._run_releasing_batch(entries, wait_for_first, release)
            else:
                assert self._run_batch is not None
                outcomes = self._run_batch(entries, wait_for_first)
        except BaseException as error:  # handed to every waiting request, none is left hanging
            if released:
                # The batch committed and its outcomes are out; the work after the commit failed.
                raise
            for slot in batch:
                slot.error = error
            self._settle(batch, [None] * len(batch))
        else:
            if not released:
                self._settle(batch, outcomes)

    def _settle(self, batch: list[_Slot], outcomes: list[object]) -> None:
        """Give each slot of the batch its outcome, or put it back at the head of the queue if
        it was left out; wake the finished ones, and pass the combiner role to the head."""
        finished: list[_Slot] = []
        left_out: list[_Slot] = []
        for slot, outcome in zip(batch, outcomes, strict=True):
            if outcome is NOT_RUN:
                slot.passed_over += 1
                left_out.append(slot)
            else:
                slot.outcome = outcome
                finished.append(slot)
        with self._lock:
            self._queue[:0] = left_out
            successor = self._queue[0] if self._queue else None
            self._combining = successor is not None
        for slot in finished:
            slot.finished = True
            slot.done.set()
        if successor is not None:
            successor.done.set()


def _lend_back_connection() -> None:
    """Give this thread's pooled database connection back while it waits for its batch: the
    combiner does the work on its own, and with 64 requests waiting on a pool of 20 the next
    batch could only gather the few that hold one. The thread takes a connection again if it
    becomes the combiner or reads more. Outside a transaction only, and only a pooled one: a
    plain connection closed here would be opened again for the next query."""
    if connection.in_atomic_block or getattr(connection, "pool", None) is None:
        return
    connection.close()


def run_book_batch(
    entries: list[Entry],
    wait_for_first: bool = True,
    committed: Callable[[list[object]], None] | None = None,
    *,
    lock_cash_first: bool = False,
) -> list[object]:
    """One transaction and one step (`book_execute_many`) for the commands of every instrument
    of `entries` that it can lock: the first entry's if `wait_for_first` (waiting for it), the
    others if no other transaction holds them, and if it could lock none of those, the first's
    after all. The commands of the others are NOT_RUN.

    If the step hits a uniqueness race (the same client_order_id sent at once on two
    instruments), each command is rerun on its own, so one command's conflict never fails the
    others. The step locks its cash accounts only when it writes them; if another transaction
    moved one meanwhile so that a cash check would decide otherwise, the step is rolled back and
    run again with them locked first (book_execute_many).

    `committed` is called with the outcomes right after the commit, before the after-commit
    work the step registered (it is registered first, and Django runs them in order); not at
    all when the step rolls back."""
    from market.services.book import CashMovedMeanwhile
    from market.services.orders import book_execute_many

    symbols = list(dict.fromkeys(symbol for symbol, _ in entries))
    try:
        with transaction.atomic(durable=True):
            outcomes: list[object] = []
            if committed is not None:
                transaction.on_commit(lambda: committed(outcomes))
            first = symbols[0]
            locked = locks.instruments_for_update(
                symbols, wait_for=first if wait_for_first else None
            )
            if not locked and not wait_for_first:
                locked = locks.instruments_for_update(symbols, wait_for=first)
            # The sequencer carries commands untyped; these are PlaceOrder and CancelOrder.
            commands: dict[str, list[Any]] = {symbol: [] for symbol in locked}
            for symbol, command in entries:
                if symbol in commands:
                    commands[symbol].append(command)
            results = book_execute_many(
                [(locked[symbol], batch) for symbol, batch in commands.items()],
                lock_cash_first=lock_cash_first,
            )
            ran = {symbol: iter(result) for symbol, result in zip(commands, results, strict=True)}
            absent = set(symbols) - locked.keys()
            listed = set(
                Instrument.objects.filter(symbol__in=absent).values_list("symbol", flat=True)
                if absent
                else ()
            )
            for symbol, _ in entries:
                if symbol in ran:
                    outcomes.append(next(ran[symbol]))
                elif symbol in listed:
                    outcomes.append(NOT_RUN)
                else:
                    outcomes.append(InstrumentNotFound(symbol=symbol, field="symbol"))
            return outcomes
    except CashMovedMeanwhile:
        return run_book_batch(entries, wait_for_first, committed, lock_cash_first=True)
    except DomainError as error:
        return [error] * len(entries)
    except IntegrityError:
        if len(entries) == 1:
            raise
        return [run_book_batch([entry])[0] for entry in entries]


sequencer = Sequencer(run_releasing_batch=run_book_batch)
