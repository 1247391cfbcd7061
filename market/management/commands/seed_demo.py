from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from market.demo.seed import HISTORY_TRADES, DemoSeedRefused, demo_seed


class Command(BaseCommand):
    help = (
        "Make the demo market: collector vehicles with pictures, their owners and instruments, "
        "simulated traders with paper money, the demo login and a day of trading history. "
        "Idempotent: only what is missing is made."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any instrument exists (for `make run`).",
        )
        parser.add_argument(
            "--history-trades",
            type=int,
            default=HISTORY_TRADES,
            help=f"Continuous trades per instrument in the day of history, about (default {HISTORY_TRADES}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = demo_seed(
                if_empty=options["if_empty"], history_trades=max(1, options["history_trades"])
            )
        except DemoSeedRefused as error:
            raise CommandError(str(error)) from error
        for line in report.lines():
            self.stdout.write(line)
