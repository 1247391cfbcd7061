"""`manage.py run_clock`: the market clock in the foreground, without a web server.

For a process of its own in embedded mode with PostgreSQL, or to watch the clock's log. With
the in-memory channel layer its broadcasts reach nobody: `manage.py serve` runs the clock inside
the web process instead. Production runs Celery beat.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand

from market.clockwork import run_clockwork


class Command(BaseCommand):
    help = "Run the market clock (catch-up and periodic jobs) in the foreground until Ctrl-C."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run_clockwork(threading.Event())
        except KeyboardInterrupt:
            self.stdout.write("market clock stopped")
