"""The flat combiner, with a fake batch runner: no database needed."""

import threading
import time

import pytest

from market.services import sequencer as sequencer_module
from market.services.sequencer import NOT_RUN, Entry, Sequencer


class SlowRunner:
    """Records each batch; the first one waits so that others queue up behind it."""

    def __init__(self) -> None:
        self.batches: list[list[Entry]] = []
        self.first_started = threading.Event()
        self.release_first = threading.Event()

    def __call__(self, entries: list[Entry], wait_for_first: bool) -> list[object]:
        self.batches.append(list(entries))
        if len(self.batches) == 1:
            self.first_started.set()
            self.release_first.wait(timeout=5)
        return [f"{key}:{command}" for key, command in entries]


def submit_in_threads(
    sequencer: Sequencer, commands: list[int], results: dict[int, object], key: str = "CAR"
) -> list[threading.Thread]:
    def run(command: int) -> None:
        results[command] = sequencer.submit(key, command)

    threads = [threading.Thread(target=run, args=(command,)) for command in commands]
    for thread in threads:
        thread.start()
    return threads


def wait_for_queue(sequencer: Sequencer, length: int) -> None:
    deadline = time.monotonic() + 5
    while len(sequencer._queue) < length and time.monotonic() < deadline:
        time.sleep(0.001)
    assert len(sequencer._queue) == length


def run_behind_a_slow_batch(
    runner: SlowRunner, commands: list[int], results: dict[int, object]
) -> tuple[Sequencer, list[threading.Thread]]:
    """Command 0 starts a batch that waits; `commands` arrive meanwhile and queue behind it;
    then the first batch is let go and every thread finishes. Returns the sequencer and the
    threads of the queued commands."""
    sequencer = Sequencer(runner)
    first = submit_in_threads(sequencer, [0], results)
    assert runner.first_started.wait(timeout=5)
    waiting = submit_in_threads(sequencer, commands, results)
    wait_for_queue(sequencer, len(commands))
    runner.release_first.set()
    for thread in first + waiting:
        thread.join(timeout=5)
    return sequencer, waiting


def test_commands_arriving_while_a_batch_runs_share_the_next_batch():
    runner = SlowRunner()
    results: dict[int, object] = {}

    sequencer, _ = run_behind_a_slow_batch(runner, list(range(1, 11)), results)

    assert [len(batch) for batch in runner.batches] == [1, 10]
    assert results == {command: f"CAR:{command}" for command in range(11)}
    assert not sequencer._combining
    assert not sequencer._queue


def test_a_failing_batch_fails_each_of_its_commands_and_the_next_batch_still_runs():
    calls: list[list[Entry]] = []

    def runner(entries: list[Entry], wait_for_first: bool) -> list[object]:
        calls.append(entries)
        if ("CAR", "boom") in entries:
            raise RuntimeError("database gone")
        return [command for _, command in entries]

    sequencer = Sequencer(runner)

    with pytest.raises(RuntimeError):
        sequencer.submit("CAR", "boom")
    assert sequencer.submit("CAR", "fine") == "fine"


def test_commands_for_different_instruments_share_a_batch():
    runner = SlowRunner()
    results: dict[int, object] = {}
    sequencer = Sequencer(runner)
    first = submit_in_threads(sequencer, [0], results, key="AAA")
    assert runner.first_started.wait(timeout=5)
    others = submit_in_threads(sequencer, [1], results, key="BBB")
    wait_for_queue(sequencer, 1)
    others += submit_in_threads(sequencer, [2], results, key="CCC")
    wait_for_queue(sequencer, 2)

    runner.release_first.set()
    for thread in first + others:
        thread.join(timeout=5)

    assert runner.batches == [[("AAA", 0)], [("BBB", 1), ("CCC", 2)]]
    assert results == {0: "AAA:0", 1: "BBB:1", 2: "CCC:2"}


class BusyInstrumentRunner:
    """Leaves out the commands of a busy instrument unless told to wait for it, as
    `run_book_batch` does when another process's step holds the instrument."""

    def __init__(self, busy: str) -> None:
        self.busy = busy
        self.calls: list[tuple[list[Entry], bool]] = []

    def __call__(self, entries: list[Entry], wait_for_first: bool) -> list[object]:
        self.calls.append((list(entries), wait_for_first))
        waited = entries[0][0] if wait_for_first else None
        return [
            NOT_RUN if key == self.busy and key != waited else f"{key}:{command}"
            for key, command in entries
        ]


def test_a_command_left_out_goes_first_in_the_next_batch_which_waits_for_it():
    runner = BusyInstrumentRunner(busy="BUSY")
    slow = SlowRunner()
    results: dict[int, object] = {}

    def runner_with_a_slow_start(entries: list[Entry], wait_for_first: bool) -> list[object]:
        if not slow.batches:
            return slow(entries, wait_for_first)
        return runner(entries, wait_for_first)

    sequencer = Sequencer(runner_with_a_slow_start)
    threads = submit_in_threads(sequencer, [0], results, key="FREE")
    assert slow.first_started.wait(timeout=5)
    threads += submit_in_threads(sequencer, [1], results, key="BUSY")
    wait_for_queue(sequencer, 1)
    threads += submit_in_threads(sequencer, [2], results, key="FREE")
    wait_for_queue(sequencer, 2)

    slow.release_first.set()
    for thread in threads:
        thread.join(timeout=5)

    assert results == {0: "FREE:0", 1: "BUSY:1", 2: "FREE:2"}
    assert runner.calls == [
        ([("BUSY", 1), ("FREE", 2)], False),  # the busy one is left out...
        ([("BUSY", 1)], True),  # ...and waited for next
    ]
    assert not sequencer._combining
    assert not sequencer._queue


def test_the_combiners_own_command_left_out_is_answered_all_the_same():
    runner = BusyInstrumentRunner(busy="BUSY")

    assert Sequencer(runner).submit("BUSY", 1) == "BUSY:1"
    assert [wait for _, wait in runner.calls] == [False, True]


class PooledConnection:
    """Stands in for django.db.connection: records which threads gave theirs back."""

    def __init__(self, *, pool: object = "a pool", in_atomic_block: bool = False) -> None:
        self.pool = pool
        self.in_atomic_block = in_atomic_block
        self.given_back_by: list[int] = []

    def close(self) -> None:
        self.given_back_by.append(threading.get_ident())


@pytest.mark.parametrize(
    ("connection", "gives_back"),
    [
        (PooledConnection(), True),
        (PooledConnection(in_atomic_block=True), False),  # a test's transaction, or a caller's
        (PooledConnection(pool=None), False),  # a plain connection would only be reopened
    ],
)
def test_a_request_waiting_for_its_batch_gives_its_pooled_connection_back(
    monkeypatch, connection, gives_back
):
    monkeypatch.setattr(sequencer_module, "connection", connection)
    runner = SlowRunner()
    results: dict[int, object] = {}

    _, waiting = run_behind_a_slow_batch(runner, [1, 2, 3], results)

    assert len(results) == 4
    expected = {thread.ident for thread in waiting} if gives_back else set()
    # The combiner keeps its connection: it runs the batch on it.
    assert set(connection.given_back_by) == expected
