from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import DomainError
from market.models import Instrument, InstrumentStatus
from market.services.control import ACTIONS, market_control


class Command(BaseCommand):
    help = (
        "Force a market transition now: open, close, halt, resume or delist (MARKET_RULES 4, 11)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("symbol", nargs="?", help="the instrument's symbol")
        parser.add_argument(
            "--all", action="store_true", help="every instrument that is not delisted"
        )

    def handle(self, *args: object, **options: object) -> None:
        action = str(options["action"])
        if options["all"] == bool(options["symbol"]):
            raise CommandError("Name one SYMBOL or pass --all.")
        symbols = (
            list(
                Instrument.objects.exclude(status=InstrumentStatus.DELISTED).values_list(
                    "symbol", flat=True
                )
            )
            if options["all"]
            else [str(options["symbol"]).upper()]
        )
        failures = 0
        for symbol in symbols:
            try:
                result = market_control(action=action, symbol=symbol)
            except DomainError as error:
                failures += 1
                self.stderr.write(f"{symbol}: {error.detail}")
                continue
            self.stdout.write(
                f"{symbol}: {action} done" + (f" ({result})" if result is not None else "")
            )
        if failures:
            raise CommandError(f"{failures} of {len(symbols)} instrument(s) failed")
