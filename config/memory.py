"""The garbage collector of a long-running process (web and Celery workers).

A web worker holds some 140,000 objects from its imports and its 1,000 WebSocket connections'
state, and every API request leaves its objects in reference cycles (DRF's request and response
refer to each other), which only the collector frees. With CPython's defaults, a request's
objects that outlive a young collection (an order waits for its batch) reach the old
generation, and its full collections took 80 to 120 ms of a worker's CPU about every ten
seconds, holding the interpreter lock: the tail of every latency (docs/benchmarks.md, change
34).
"""

from __future__ import annotations

import gc

# Young collections after this many new container objects instead of 700: a request's garbage
# is then mostly freed while it is young, and rarely promoted.
YOUNG_THRESHOLD = 20_000


def tune_garbage_collector() -> None:
    """Call once the process has loaded what it keeps for its life: those objects are frozen
    out of every later collection (they are never garbage), and young collections run less
    often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
