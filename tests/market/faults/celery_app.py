"""The project's Celery app, for a worker the fault suite kills: with VX_FAULTS_HOLD naming a
file, the first book step a pool process writes (an auction's, in that worker) then holds its
transaction open, writes the process id into `<file>.held`, and waits to be killed. The file is
renamed first, atomically, so only one run ever holds; the rerun goes through.

    celery -A tests.market.faults.celery_app worker ...
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery.signals import worker_process_init

from config.celery import app

__all__ = ["app"]


@worker_process_init.connect
def _hold_the_first_book_step(**kwargs: Any) -> None:
    """In each pool process, once Django is set up."""
    hold = os.environ.get("VX_FAULTS_HOLD", "")
    if not hold:
        return
    from market.services.book import BookSession

    flush = BookSession.flush

    def flush_then_hold(session: BookSession) -> None:
        flush(session)
        marker, held = Path(hold), Path(f"{hold}.held")
        try:
            marker.rename(held)
        except FileNotFoundError:
            return  # held once already: this is the rerun
        held.write_text(str(os.getpid()))
        time.sleep(300)

    BookSession.flush = flush_then_hold  # type: ignore[method-assign]
