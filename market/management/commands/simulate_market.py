from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from market.demo.simulator import Simulator


class Command(BaseCommand):
    help = (
        "Run the demo's simulated traders (market makers, noise and momentum traders) against "
        "the market until interrupted, or for --seconds. Needs seed_demo's traders."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rate",
            type=int,
            default=None,
            help="Actions per second (default: MARKET_SIMULATOR_RATE).",
        )
        parser.add_argument(
            "--seconds", type=float, default=None, help="Stop after this long (default: never)."
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Seed the agents' choices, to replay them."
        )
        parser.add_argument(
            "--no-catch-up",
            action="store_false",
            dest="catch_up",
            help="Leave the due auctions to the market clock (serve, run_clock or beat).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rate = options["rate"]
        if rate is not None and rate < 1:
            raise CommandError("--rate is at least 1 action per second.")
        simulator = Simulator(seed=options["seed"], rate=rate)
        if not simulator.agents():
            raise CommandError("No demo traders: run `manage.py seed_demo` first.")
        self.stdout.write(
            f"Simulating {len(simulator.agents())} traders at {simulator.rate} actions a second"
            + (f" for {options['seconds']:g} s" if options["seconds"] is not None else "")
            + " (Ctrl-C stops)."
        )
        try:
            stats = simulator.run(seconds=options["seconds"], catch_up=options["catch_up"])
        except KeyboardInterrupt:
            stats = simulator.stats
        self.stdout.write(str(stats))
