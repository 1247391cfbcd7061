"""`manage.py serve [addrport]`: Daphne's runserver (HTTP and WebSocket) with the market clock.

Embedded mode: the clockwork thread (market/clockwork.py) runs in this same process, so that it
shares the in-memory channel layer with the consumers. Hence never the autoreloader, which
would serve from a child process without the clock.
"""

from __future__ import annotations

from typing import Any

from daphne.management.commands.runserver import Command as DaphneRunserver
from django.conf import settings
from django.core.management.base import CommandParser

from market.clockwork import register_periodic, start_clockwork, stop_clockwork
from market.demo.simulator import register_with_clockwork
from market.services.rollups import rollup_run


class Command(DaphneRunserver):
    help = (
        "Serve HTTP and WebSocket with Daphne, without the autoreloader, and run the market "
        "clock in this process when MARKET_EMBEDDED_CLOCK is on."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-clock",
            action="store_false",
            dest="use_clock",
            help="Do not run the embedded market clock (e.g. beat runs it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        options["use_reloader"] = False
        with_clock = bool(settings.MARKET_EMBEDDED_CLOCK and options["use_clock"])
        if with_clock:
            # No beat in embedded mode: the clock freezes each closed day's P&L and board.
            register_periodic(rollup_run, every_seconds=30.0)
            # Simulated traders, when MARKET_SIMULATOR_ENABLED: after each clock turn.
            register_with_clockwork()
            start_clockwork()
        try:
            super().handle(*args, **options)
        finally:
            if with_clock:
                stop_clockwork()
