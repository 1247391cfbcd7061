from decimal import Decimal

import pytest

from accounts.services import user_register
from market.errors import InsufficientCash, InvalidAmount
from market.models import CashAccount, LedgerEntry
from market.services.ledger import cash_adjust, cash_deposit, cash_withdraw

pytestmark = pytest.mark.django_db


def test_sign_up_opens_a_cash_account_with_paper_money(settings):
    settings.MARKET_DEMO_MODE = True

    user = user_register(username="newcomer", password="a-Long-pass-123", display_name="New")

    account = CashAccount.objects.get(user=user)
    assert account.balance_amount == Decimal("10000.00")
    assert LedgerEntry.objects.filter(account=account).get().amount == Decimal("10000.00")


def test_sign_up_outside_demo_mode_starts_with_no_cash(settings):
    settings.MARKET_DEMO_MODE = False

    user = user_register(username="newcomer", password="a-Long-pass-123", display_name="New")

    assert CashAccount.objects.get(user=user).balance_amount == Decimal("0.00")


def test_withdrawal_beyond_available_cash_is_refused(make_trader):
    trader = make_trader(cash="100.00")

    with pytest.raises(InsufficientCash):
        cash_withdraw(user_id=trader.pk, amount="100.01")

    assert CashAccount.objects.get(user=trader).balance_amount == Decimal("100.00")


def test_operator_adjustment_needs_a_reason_and_moves_cash_both_ways(make_trader):
    trader = make_trader(cash="100.00")

    cash_adjust(user_id=trader.pk, amount="-40.00", reason="Chargeback")
    cash_adjust(user_id=trader.pk, amount="15.50", reason="Goodwill")

    assert CashAccount.objects.get(user=trader).balance_amount == Decimal("75.50")
    with pytest.raises(InvalidAmount):
        cash_adjust(user_id=trader.pk, amount="1.00", reason="  ")


@pytest.mark.parametrize("amount", ["0", "-5", "1.001", "abc", "1e3", "NaN"])
def test_bad_deposit_amounts_are_refused(make_trader, amount):
    trader = make_trader(cash="0")

    with pytest.raises(InvalidAmount):
        cash_deposit(user_id=trader.pk, amount=amount)
