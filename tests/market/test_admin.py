"""The operators' admin: every market model's pages load; actions go through the services."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from market.models import (
    AuctionRecord,
    AuditEvent,
    CashAccount,
    Instrument,
    InstrumentStatus,
    LedgerEntry,
    LedgerKind,
    LedgerTransaction,
    Order,
    OrderStatus,
    Position,
    Trade,
)
from market.services.orders import order_place

pytestmark = pytest.mark.django_db

MODELS = [
    Instrument,
    Order,
    Trade,
    Position,
    CashAccount,
    LedgerTransaction,
    LedgerEntry,
    AuctionRecord,
    AuditEvent,
]
IMMUTABLE = [Trade, LedgerTransaction, LedgerEntry, AuctionRecord, AuditEvent]


def admin_url(model, view, *args):
    return reverse(f"admin:market_{model._meta.model_name}_{view}", args=args)


def act(client, model, action, objects, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], **extra}
    return client.post(admin_url(model, "changelist"), data, follow=True)


@pytest.fixture
def market_with_a_trade(continuous_instrument, make_trader):
    """One of everything: a listing, an opening auction, a trade, a resting order."""
    instrument = continuous_instrument()
    seller, buyer = instrument.vehicle.owner, make_trader(cash="10000.00")
    order_place(user_id=seller.pk, symbol=instrument.symbol, side="sell", quantity=5, price="101")
    order_place(user_id=buyer.pk, symbol=instrument.symbol, side="buy", quantity=5, price="101")
    resting = order_place(
        user_id=buyer.pk, symbol=instrument.symbol, side="buy", quantity=5, price="99.00"
    )
    return instrument, buyer, resting


@pytest.fixture
def staff_client(client, django_user_model):
    """A staff user (not a superuser) with every market permission."""
    user = django_user_model.objects.create_user(
        username="operator", password="x-Pass-1234", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="market"))
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_changelist_and_change_pages_load_for_staff(market_with_a_trade, staff_client, model):
    obj = model.objects.order_by("pk").first()

    changelist = staff_client.get(admin_url(model, "changelist"))
    change = staff_client.get(admin_url(model, "change", obj.pk))

    assert (changelist.status_code, change.status_code) == (200, 200)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_changelist_search_works(market_with_a_trade, admin_client, model):
    response = admin_client.get(admin_url(model, "changelist"), {"q": "trader"})

    assert response.status_code == 200


@pytest.mark.parametrize("model", IMMUTABLE, ids=lambda model: model.__name__)
def test_immutable_records_cannot_be_added_changed_or_deleted(
    market_with_a_trade, admin_client, model
):
    obj = model.objects.order_by("pk").first()

    add = admin_client.get(admin_url(model, "add"))
    delete = admin_client.get(admin_url(model, "delete", obj.pk))
    change = admin_client.post(admin_url(model, "change", obj.pk), {})

    assert (add.status_code, delete.status_code, change.status_code) == (403, 403, 403)


def test_halt_resume_and_delist_actions_call_the_market_controls(market_with_a_trade, admin_client):
    instrument, _, resting = market_with_a_trade

    act(admin_client, Instrument, "halt_trading", [instrument])
    halted = Instrument.objects.get().status
    act(admin_client, Instrument, "resume_trading", [instrument])
    resumed = Instrument.objects.get().status
    act(admin_client, Instrument, "delist", [instrument])

    assert (halted, resumed) == (InstrumentStatus.HALTED, InstrumentStatus.ACTIVE)
    assert Instrument.objects.get().status == InstrumentStatus.DELISTED
    assert Order.objects.get(pk=resting.pk).status == OrderStatus.CANCELLED
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"market.halt", "market.resume", "market.delist"} <= actions


def test_market_control_refusal_is_reported_not_raised(market_with_a_trade, admin_client):
    instrument, _, _ = market_with_a_trade
    act(admin_client, Instrument, "delist", [instrument])

    response = act(admin_client, Instrument, "halt_trading", [instrument])

    assert response.status_code == 200
    assert "is delisted" in response.content.decode()


def test_cancel_action_cancels_open_orders_and_reports_closed_ones(
    market_with_a_trade, admin_client
):
    _, buyer, resting = market_with_a_trade
    filled = Order.objects.filter(status=OrderStatus.FILLED).first()

    response = act(admin_client, Order, "cancel_orders", [resting, filled])

    assert Order.objects.get(pk=resting.pk).status == OrderStatus.CANCELLED
    assert CashAccount.objects.get(user=buyer).reserved_amount == Decimal("0.00")
    assert "already filled" in response.content.decode()


def test_cash_adjust_action_asks_for_amount_and_reason_first(market_with_a_trade, admin_client):
    _, buyer, _ = market_with_a_trade
    account = CashAccount.objects.get(user=buyer)

    response = act(admin_client, CashAccount, "adjust_cash", [account])

    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()
    assert not LedgerTransaction.objects.filter(kind=LedgerKind.ADJUSTMENT).exists()


def test_cash_adjust_action_credits_through_the_ledger_with_the_reason(
    market_with_a_trade, admin_client, admin_user
):
    _, buyer, _ = market_with_a_trade
    account = CashAccount.objects.get(user=buyer)
    before = account.balance_amount

    act(
        admin_client,
        CashAccount,
        "adjust_cash",
        [account],
        apply="1",
        amount="-40.00",
        reason="Chargeback",
    )

    movement = LedgerTransaction.objects.get(kind=LedgerKind.ADJUSTMENT)
    assert (movement.memo, movement.created_by) == ("Chargeback", admin_user)
    assert CashAccount.objects.get(pk=account.pk).balance_amount == before - Decimal("40.00")


@pytest.mark.parametrize(("amount", "reason"), [("abc", "Typo"), ("1e3", "Typo"), ("10.00", "")])
def test_cash_adjust_action_with_bad_input_changes_nothing(
    market_with_a_trade, admin_client, amount, reason
):
    _, buyer, _ = market_with_a_trade
    account = CashAccount.objects.get(user=buyer)

    response = act(
        admin_client, CashAccount, "adjust_cash", [account], apply="1", amount=amount, reason=reason
    )

    assert response.status_code == 200
    assert not LedgerTransaction.objects.filter(kind=LedgerKind.ADJUSTMENT).exists()


def test_cash_adjust_refusal_by_the_service_is_reported(market_with_a_trade, admin_client):
    _, buyer, _ = market_with_a_trade
    account = CashAccount.objects.get(user=buyer)

    response = act(
        admin_client,
        CashAccount,
        "adjust_cash",
        [account],
        apply="1",
        amount="-1000000.00",
        reason="Too much",
    )

    assert "Insufficient cash" in response.content.decode()
    assert not LedgerTransaction.objects.filter(kind=LedgerKind.ADJUSTMENT).exists()


def test_account_ledger_link_lists_that_accounts_entries(market_with_a_trade, admin_client):
    _, buyer, _ = market_with_a_trade
    account = CashAccount.objects.get(user=buyer)

    response = admin_client.get(admin_url(LedgerEntry, "changelist"), {"account": account.pk})

    assert response.status_code == 200
    assert response.context["cl"].result_count == account.entries.count()
