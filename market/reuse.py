"""Reads that many requests of one process can share: a value read at a key (a stream's
sequence number, a phase) serves again while the key is the same and the read is recent.

The WebSocket consumers share instrument snapshots and stream cursors with it, the vehicle page
its public market part: what every visitor sees alike costs one read per change, not one per
visitor."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class ReusedReads:
    """Each name's latest read, reusable for `seconds` at the same key. Thread-safe. Once it
    holds more than `keep` names it forgets the reads too old to serve."""

    def __init__(
        self, seconds: float, *, keep: int = 100, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.keep = keep
        self._clock = clock
        self._reads: dict[Hashable, tuple[Hashable, float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, name: Hashable, key: Hashable = None) -> Any | None:
        """The value read for `name` at `key` within the last `seconds`, else None."""
        with self._lock:
            read = self._reads.get(name)
        if read is None or read[0] != key or self._clock() - read[1] >= self.seconds:
            return None
        return read[2]

    def put(self, name: Hashable, value: Any, key: Hashable = None) -> None:
        with self._lock:
            now = self._clock()
            self._reads[name] = (key, now, value)
            if len(self._reads) > self.keep:
                for old_name, (_, read_at, _) in list(self._reads.items()):
                    if now - read_at >= self.seconds:
                        del self._reads[old_name]

    def names(self) -> list[Hashable]:
        with self._lock:
            return list(self._reads)

    def clear(self) -> None:
        with self._lock:
            self._reads.clear()
