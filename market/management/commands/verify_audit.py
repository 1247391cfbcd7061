"""python manage.py verify_audit: walk the audit trail's hash chains (market/services/audit.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from market.services.audit import audit_verify


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chains; exit non-zero and name the first broken link of "
        "each broken chain. With -v 2, list every chain's head (record them elsewhere to detect "
        "a rewrite of a whole chain)."
    )

    def handle(self, *args: object, **options: object) -> None:
        result = audit_verify()
        if int(str(options["verbosity"])) >= 2:
            for chain in result.chains:
                self.stdout.write(
                    f"{chain.name}: {chain.events} events, head seq {chain.last_seq} "
                    f"hash {chain.last_hash}"
                )
        for found in result.breaks:
            self.stderr.write(str(found))
        if not result.is_intact:
            raise CommandError(f"verify_audit: {result.summary()}")
        self.stdout.write(self.style.SUCCESS(f"verify_audit: {result.summary()}"))
