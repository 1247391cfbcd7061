"""ReusedReads: a read serves again at the same key while it is recent, and old reads go."""

from market.reuse import ReusedReads


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_read_serves_at_its_key_until_it_is_too_old():
    clock = Clock()
    reads = ReusedReads(1.0, clock=clock)
    reads.put("instrument.CAR", {"book": 1}, 7)

    assert reads.get("instrument.CAR", 7) == {"book": 1}
    assert reads.get("instrument.CAR", 8) is None  # the stream moved on
    assert reads.get("instrument.VAN", 7) is None
    clock.now += 1.0
    assert reads.get("instrument.CAR", 7) is None


def test_past_its_size_it_keeps_only_the_reads_that_can_still_serve():
    clock = Clock()
    reads = ReusedReads(1.0, keep=1, clock=clock)
    reads.put("first", "old")
    clock.now += 5  # long expired

    reads.put("second", "new")

    assert reads.names() == ["second"]
    assert reads.get("second") == "new"
