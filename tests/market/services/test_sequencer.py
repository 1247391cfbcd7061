"""The flat combiner, with a fake batch runner: no database needed."""

import threading
import time

import pytest

from market.services import sequencer as sequencer_module
from market.services.sequencer import Sequencer


class SlowRunner:
    """Records each batch; the first one waits so that others queue up behind it."""

    def __init__(self) -> None:
        self.batches: list[list[object]] = []
        self.first_started = threading.Event()
        self.release_first = threading.Event()

    def __call__(self, key: str, commands: list[object]) -> list[object]:
        self.batches.append(list(commands))
        if len(self.batches) == 1:
            self.first_started.set()
            self.release_first.wait(timeout=5)
        return [f"{key}:{command}" for command in commands]


def submit_in_threads(
    sequencer: Sequencer, commands: list[int], results: dict[int, object]
) -> list[threading.Thread]:
    def run(command: int) -> None:
        results[command] = sequencer.submit("CAR", command)

    threads = [threading.Thread(target=run, args=(command,)) for command in commands]
    for thread in threads:
        thread.start()
    return threads


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
    deadline = time.monotonic() + 5
    while len(sequencer._queues["CAR"]) < len(commands) and time.monotonic() < deadline:
        time.sleep(0.001)
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


def test_a_failing_batch_fails_each_of_its_commands_and_the_next_batch_still_runs():
    calls: list[list[object]] = []

    def runner(key: str, commands: list[object]) -> list[object]:
        calls.append(commands)
        if "boom" in commands:
            raise RuntimeError("database gone")
        return commands

    sequencer = Sequencer(runner)

    with pytest.raises(RuntimeError):
        sequencer.submit("CAR", "boom")
    assert sequencer.submit("CAR", "fine") == "fine"


def test_instruments_are_combined_separately():
    keys: list[str] = []

    def runner(key: str, commands: list[object]) -> list[object]:
        keys.append(key)
        return commands

    sequencer = Sequencer(runner)

    assert sequencer.submit("AAA", 1) == 1
    assert sequencer.submit("BBB", 2) == 2
    assert keys == ["AAA", "BBB"]


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
