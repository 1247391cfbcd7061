"""Commands for a book step as a test writes them, and a trader's cash as a test reads it."""

from __future__ import annotations

from decimal import Decimal

from market.models import CashAccount
from market.services.orders import PlaceOrder


def buy(user, price: str, quantity: int) -> PlaceOrder:
    return PlaceOrder(user.pk, "buy", "limit", quantity, Decimal(price), "day")


def sell(user, price: str, quantity: int) -> PlaceOrder:
    return PlaceOrder(user.pk, "sell", "limit", quantity, Decimal(price), "day")


def cash(user) -> tuple[Decimal, Decimal]:
    """The user's balance and reserved cash."""
    account = CashAccount.objects.get(user=user)
    return account.balance_amount, account.reserved_amount
