from django.core.management.base import BaseCommand, CommandError

from market.services.reconcile import reconcile


class Command(BaseCommand):
    help = "Check every invariant of the market; exit non-zero and name each break."

    def handle(self, *args: object, **options: object) -> None:
        breaks = reconcile()
        for found in breaks:
            self.stderr.write(str(found))
        if breaks:
            raise CommandError(f"{len(breaks)} invariant(s) broken")
        self.stdout.write(self.style.SUCCESS("reconcile: every invariant holds"))
