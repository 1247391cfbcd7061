"""The operators' view of the market. Nothing here edits market state directly: every change goes
through a service (halt, resume, delist, cancel, cash adjustment), which locks, audits and keeps
the ledger balanced. Trades, the ledger, auctions and the audit trail are read-only."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from config.errors import DomainError
from market.models import (
    AuctionRecord,
    AuditEvent,
    CashAccount,
    CashAccountKind,
    Instrument,
    LedgerEntry,
    LedgerTransaction,
    Order,
    Position,
    Trade,
)
from market.money import to_decimal
from market.services.control import market_delist, market_halt, market_resume
from market.services.ledger import cash_adjust
from market.services.orders import order_cancel


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never added, changed or deleted here: these rows are written by services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _run_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    items: list[Any],
    run: Callable[[Any], object],
    done: str,
) -> None:
    """Run a service per item; report each refusal by name and the successes in one line."""
    succeeded = 0
    for item in items:
        try:
            run(item)
        except DomainError as error:
            modeladmin.message_user(request, f"{item}: {error.detail}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{succeeded} {done}.", messages.SUCCESS)


# --- instruments ----------------------------------------------------------------------------


class PositionInline(ReadOnlyInline):
    model = Position
    fields = ("user", "quantity", "reserved_quantity", "cost_basis_amount", "realized_pnl_amount")
    readonly_fields = fields
    ordering = ("-quantity",)


@admin.register(Instrument)
class InstrumentAdmin(ReadOnlyAdmin):
    list_display = (
        "symbol",
        "vehicle",
        "status",
        "last_price",
        "listing_price",
        "total_shares",
        "first_trading_date",
        "last_trade_at",
        "listed_at",
    )
    list_filter = ("status", "first_trading_date", "listed_at")
    list_select_related = ("vehicle",)
    search_fields = (
        "symbol",
        "vehicle__make",
        "vehicle__model",
        "vehicle__vin",
        "vehicle__owner__username",
    )
    date_hierarchy = "listed_at"
    inlines = (PositionInline,)
    actions = ("halt_trading", "resume_trading", "delist")

    def has_market_control_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("market.change_instrument"))

    @admin.action(description="Halt trading (orders may be cancelled, none placed)")
    def halt_trading(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> None:
        _run_each(
            self,
            request,
            list(queryset),
            lambda instrument: market_halt(symbol=instrument.symbol, actor_id=request.user.pk),
            "instrument(s) halted",
        )

    @admin.action(description="Resume trading (re-opens through an auction)")
    def resume_trading(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> None:
        _run_each(
            self,
            request,
            list(queryset),
            lambda instrument: market_resume(symbol=instrument.symbol, actor_id=request.user.pk),
            "instrument(s) resumed",
        )

    @admin.action(description="Delist (cancel open orders; positions stay)")
    def delist(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> None:
        _run_each(
            self,
            request,
            list(queryset),
            lambda instrument: market_delist(symbol=instrument.symbol, actor_id=request.user.pk),
            "instrument(s) delisted",
        )

    halt_trading.allowed_permissions = ("market_control",)  # type: ignore[attr-defined]
    resume_trading.allowed_permissions = ("market_control",)  # type: ignore[attr-defined]
    delist.allowed_permissions = ("market_control",)  # type: ignore[attr-defined]


# --- orders and trades ----------------------------------------------------------------------


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "instrument",
        "user",
        "side",
        "type",
        "quantity",
        "price",
        "filled_quantity",
        "status",
        "time_in_force",
        "reserved_amount",
        "trading_date",
        "created_at",
    )
    list_filter = ("status", "side", "type", "time_in_force", "trading_date")
    list_select_related = ("instrument", "user")
    search_fields = ("=id", "instrument__symbol", "user__username", "client_order_id")
    date_hierarchy = "created_at"
    actions = ("cancel_orders",)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("market.change_order"))

    @admin.action(description="Cancel selected orders (releases their reservations)")
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        _run_each(
            self,
            request,
            list(queryset.order_by("pk")),
            lambda order: order_cancel(
                user_id=order.user_id, order_id=order.pk, actor_id=request.user.pk
            ),
            "order(s) cancelled",
        )

    cancel_orders.allowed_permissions = ("cancel",)  # type: ignore[attr-defined]


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "instrument",
        "price",
        "quantity",
        "notional_amount",
        "buyer",
        "seller",
        "buyer_fee_amount",
        "seller_fee_amount",
        "kind",
        "aggressor_side",
        "trading_date",
        "executed_at",
    )
    list_filter = ("kind", "aggressor_side", "trading_date")
    list_select_related = ("instrument", "buyer", "seller")
    search_fields = (
        "=id",
        "instrument__symbol",
        "buyer__username",
        "seller__username",
        "=buy_order__id",
        "=sell_order__id",
    )
    date_hierarchy = "executed_at"


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "instrument",
        "quantity",
        "reserved_quantity",
        "cost_basis_amount",
        "realized_pnl_amount",
        "updated_at",
    )
    list_filter = ("instrument",)
    list_select_related = ("user", "instrument")
    search_fields = ("user__username", "instrument__symbol")


@admin.register(AuctionRecord)
class AuctionRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "instrument",
        "kind",
        "trading_date",
        "price",
        "volume",
        "surplus",
        "reference_price",
        "orders_count",
        "ran_at",
    )
    list_filter = ("kind", "trading_date")
    list_select_related = ("instrument",)
    search_fields = ("instrument__symbol",)
    date_hierarchy = "trading_date"


# --- cash -----------------------------------------------------------------------------------


class CashAdjustForm(forms.Form):
    amount = forms.CharField(
        max_length=20,
        help_text="Dollars and cents: positive credits the account, negative debits it.",
    )
    reason = forms.CharField(max_length=200, help_text="Recorded on the ledger and the audit.")

    def clean_amount(self) -> Decimal:
        try:
            return to_decimal(self.cleaned_data["amount"])
        except (TypeError, ValueError):
            raise forms.ValidationError("Give an amount such as 250.00 or -40.00.") from None


ADJUST_TEMPLATE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block content %}
<p>Credit (positive) or debit (negative) each of these accounts, through the ledger:</p>
<ul>{% for account in accounts %}<li>{{ account }}: balance {{ account.balance_amount }},
available {{ account.available_amount }}</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}
  {{ form.as_p }}
  {% for account in accounts %}
  <input type="hidden" name="{{ checkbox_name }}" value="{{ account.pk }}">
  {% endfor %}
  <input type="hidden" name="action" value="adjust_cash">
  <input type="hidden" name="apply" value="1">
  <input type="submit" value="Adjust cash">
</form>
{% endblock %}"""
)


@admin.register(CashAccount)
class CashAccountAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "user",
        "kind",
        "balance_amount",
        "reserved_amount",
        "available",
        "ledger",
        "created_at",
    )
    list_filter = ("kind",)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__display_name", "user__email")
    readonly_fields = ("available", "ledger")
    actions = ("adjust_cash",)

    @admin.display(description="Available")
    def available(self, account: CashAccount) -> Decimal:
        return account.available_amount

    @admin.display(description="Ledger")
    def ledger(self, account: CashAccount) -> str:
        url = reverse("admin:market_ledgerentry_changelist")
        return format_html('<a href="{}?account={}">entries</a>', url, account.pk)

    def has_adjust_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("market.change_cashaccount"))

    @admin.action(description="Credit or debit with a reason")
    def adjust_cash(
        self, request: HttpRequest, queryset: QuerySet[CashAccount]
    ) -> HttpResponse | None:
        accounts = list(queryset.filter(kind=CashAccountKind.USER).select_related("user"))
        if len(accounts) < queryset.count():
            self.message_user(
                request, "System accounts move only with trades and deposits.", messages.WARNING
            )
        if not accounts:
            return None
        form = CashAdjustForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            _run_each(
                self,
                request,
                accounts,
                lambda account: cash_adjust(
                    user_id=account.user_id,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor_id=request.user.pk,
                ),
                "account(s) adjusted",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Credit or debit cash",
            "opts": self.model._meta,
            "accounts": accounts,
            "form": form,
            "checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, ADJUST_TEMPLATE, context)

    adjust_cash.allowed_permissions = ("adjust",)  # type: ignore[attr-defined]


class TransactionEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ("account", "amount", "description")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[LedgerEntry]:
        return super().get_queryset(request).select_related("account")


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "memo", "trade", "created_by", "created_at")
    list_filter = ("kind", "created_at")
    list_select_related = ("trade", "created_by")
    search_fields = ("=id", "memo", "created_by__username", "entries__account__user__username")
    date_hierarchy = "created_at"
    inlines = (TransactionEntryInline,)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "amount", "description", "transaction", "created_at")
    list_filter = ("account__kind", "transaction__kind", "created_at")
    list_select_related = ("account", "transaction")
    search_fields = ("=id", "description", "account__user__username", "=transaction__id")
    date_hierarchy = "created_at"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "action", "actor", "instrument", "order", "chain", "seq", "created_at")
    list_filter = ("action", "created_at")
    list_select_related = ("actor", "instrument", "order")
    # `=chain` finds a chain `verify_audit` names, e.g. instrument:12.
    search_fields = ("action", "actor__username", "instrument__symbol", "=order__id", "=chain")
    date_hierarchy = "created_at"
