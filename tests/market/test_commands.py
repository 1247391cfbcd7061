"""python manage.py cash_adjust USERNAME AMOUNT --reason TEXT (MARKET_RULES 11)."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from market.models import CashAccount, LedgerKind, LedgerTransaction

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("cash_adjust", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("amount", "balance"), [("250.00", "350.00"), ("-40.00", "60.00"), ("0.01", "100.01")]
)
def test_cash_adjust_moves_cash_through_the_ledger_and_prints_the_balance(
    make_trader, amount, balance
):
    trader = make_trader(cash="100.00", name="alice")

    output = run("alice", amount, "--reason", "Goodwill")

    assert output.strip() == f"alice: new balance {balance}"
    assert CashAccount.objects.get(user=trader).balance_amount == Decimal(balance)
    assert LedgerTransaction.objects.get(kind=LedgerKind.ADJUSTMENT).memo == "Goodwill"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody", "10.00", "--reason", "x"), "No user is named nobody."),
        (("alice", "-500.00", "--reason", "x"), "Insufficient cash"),
        (("alice", "0", "--reason", "x"), "must not be zero"),
        (("alice", "1.005", "--reason", "x"), "two decimal places"),
        (("alice", "ten", "--reason", "x"), "number of dollars"),
        (("alice", "10.00", "--reason", " "), "reason is required"),
    ],
)
def test_cash_adjust_refusal_exits_with_the_message_and_changes_nothing(make_trader, args, message):
    make_trader(cash="100.00", name="alice")

    with pytest.raises(CommandError, match=message):
        run(*args)

    assert not LedgerTransaction.objects.filter(kind=LedgerKind.ADJUSTMENT).exists()


def test_cash_adjust_needs_a_reason(make_trader):
    make_trader(cash="100.00", name="alice")

    with pytest.raises(CommandError, match="--reason"):
        run("alice", "10.00")
