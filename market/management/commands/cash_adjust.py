"""python manage.py cash_adjust USERNAME AMOUNT --reason TEXT (MARKET_RULES 11)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import DomainError
from market.models import CashAccount
from market.services.ledger import cash_adjust


class Command(BaseCommand):
    help = "Credit (positive AMOUNT) or debit (negative) a user's cash through the ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("amount", help="dollars and cents, e.g. 250.00 or -40.00")
        parser.add_argument("--reason", required=True, help="why; recorded on the ledger")

    def handle(self, *args: object, **options: object) -> None:
        username = str(options["username"])
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is named {username}.")
        try:
            cash_adjust(
                user_id=user.pk, amount=str(options["amount"]), reason=str(options["reason"])
            )
        except DomainError as error:
            raise CommandError(error.detail) from None
        balance = CashAccount.objects.get(user_id=user.pk).balance_amount
        self.stdout.write(f"{username}: new balance {balance}")
