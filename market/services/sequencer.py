"""Flat combining: concurrent commands for one instrument share one lock, one transaction and
one commit.

A transaction per order that holds the book lock through its commit cannot pass ~300 orders/s
on one instrument: the lock is held while the commit waits for the disk. Here, within a process,
the first request thread for an instrument becomes its combiner: it takes every command queued
for that instrument (its own and those that arrived meanwhile), runs them as one batch through
`book_execute`, hands each waiting thread its outcome, and passes the combiner role to a
waiting thread if more commands arrived, so no request serves others for long. Across processes
the instrument row lock still serializes batches. Every acknowledged order is durable: the
outcome is handed back only after its batch has committed.

The waiting requests get their outcomes, and the next combiner its turn, the moment the batch
commits: before the batch's other after-commit work (the real-time relay, market/relay.py),
which the combiner then does on its own time. Otherwise every request of the batch, and the
instrument's next batch in this process, would wait for one relay transaction per stream the
batch touched (make bench measured it; docs/benchmarks.md).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction

from market import locks
from market.errors import DomainError

MAX_BATCH = 256


@dataclass(eq=False)
class _Slot:
    command: object
    done: threading.Event = field(default_factory=threading.Event)
    outcome: object = None
    error: BaseException | None = None
    # Set when this waiting thread is handed the combiner role instead of an outcome.
    must_combine: bool = False

    def result(self) -> object:
        if self.error is not None:
            raise self.error
        return self.outcome


BatchRunner = Callable[[str, list[object]], list[object]]
# A runner that also takes a callback to call with the outcomes as soon as the batch commits.
ReleasingBatchRunner = Callable[[str, list[object], Callable[[list[object]], None]], list[object]]


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
        self._queues: dict[str, list[_Slot]] = defaultdict(list)
        self._combining: set[str] = set()

    def submit(self, key: str, command: object) -> object:
        """Run `command` in the next batch for `key`; return its outcome once committed."""
        slot = _Slot(command)
        with self._lock:
            self._queues[key].append(slot)
            leads = key not in self._combining
            if leads:
                self._combining.add(key)
        if not leads:
            _lend_back_connection()
            slot.done.wait()
            if not slot.must_combine:
                return slot.result()
        self._combine(key)
        return slot.result()

    def _combine(self, key: str) -> None:
        with self._lock:
            batch = self._queues[key][:MAX_BATCH]
            del self._queues[key][: len(batch)]
        released = False

        def release(outcomes: list[object]) -> None:
            nonlocal released
            for slot, outcome in zip(batch, outcomes, strict=True):
                slot.outcome = outcome
            released = True
            self._hand_off(key, batch)

        commands = [slot.command for slot in batch]
        try:
            if self._run_releasing_batch is not None:
                outcomes = self._run_releasing_batch(key, commands, release)
            else:
                assert self._run_batch is not None
                outcomes = self._run_batch(key, commands)
        except BaseException as error:  # handed to every waiting request, none is left hanging
            if released:
                # The batch committed and its outcomes are out; the work after the commit failed.
                raise
            for slot in batch:
                slot.error = error
        else:
            if released:
                return
            for slot, outcome in zip(batch, outcomes, strict=True):
                slot.outcome = outcome
        self._hand_off(key, batch)

    def _hand_off(self, key: str, batch: list[_Slot]) -> None:
        """Wake the batch's requests and pass the combiner role to the next waiting one."""
        with self._lock:
            successor = self._queues[key][0] if self._queues[key] else None
            if successor is None:
                self._combining.discard(key)
                self._queues.pop(key, None)
            else:
                successor.must_combine = True
        for slot in batch:
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


def run_instrument_batch(
    symbol: str,
    commands: list[object],
    committed: Callable[[list[object]], None] | None = None,
    *,
    lock_cash_first: bool = False,
) -> list[object]:
    """One transaction for the whole batch. If the batch hits a uniqueness race (the same
    client_order_id sent at once on two instruments), each command is rerun on its own, so one
    command's conflict never fails the others. The batch locks its cash accounts only when it
    writes them; if another transaction moved one meanwhile so that a cash check would decide
    otherwise, the batch is rolled back and run again with them locked first (book_execute).

    `committed` is called with the outcomes right after the commit, before the after-commit
    work the batch registered (it is registered first, and Django runs them in order); not at
    all when the batch rolls back."""
    from market.services.book import CashMovedMeanwhile
    from market.services.orders import book_execute

    try:
        with transaction.atomic(durable=True):
            outcomes: list[object] = []
            if committed is not None:
                transaction.on_commit(lambda: committed(outcomes))
            instrument = locks.instrument_for_update(symbol=symbol)
            outcomes += book_execute(
                instrument,
                commands,  # type: ignore[arg-type]
                lock_cash_first=lock_cash_first,
            )
            return outcomes
    except CashMovedMeanwhile:
        return run_instrument_batch(symbol, commands, committed, lock_cash_first=True)
    except DomainError as error:
        return [error] * len(commands)
    except IntegrityError:
        if len(commands) == 1:
            raise
        return [run_instrument_batch(symbol, [command])[0] for command in commands]


sequencer = Sequencer(run_releasing_batch=run_instrument_batch)
