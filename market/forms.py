"""The market's page forms: the order ticket and the listing ("Start trading").

They parse input only; the rules (ticks, limits, funds, phases) are the services', whose
DomainErrors the views show next to the field they name (`form_add_domain_error`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings

from market.models import OrderType, Side, TimeInForce

PRICE_ATTRS = {"inputmode": "decimal", "autocomplete": "off", "pattern": r"\d+(\.\d{1,2})?"}


def ascii_digits_only(value: Any) -> None:
    """Refuse digits of other scripts (fullwidth, Arabic-Indic, ...): int() and Decimal() read
    them, so fullwidth "10" would otherwise be ten shares. The API refuses them too."""
    if isinstance(value, str) and not value.isascii():
        raise forms.ValidationError("Use the digits 0 to 9.", code="invalid")


class AsciiIntegerField(forms.IntegerField):
    def to_python(self, value: Any) -> int | None:
        ascii_digits_only(value)
        return super().to_python(value)


class AsciiDecimalField(forms.DecimalField):
    def to_python(self, value: Any) -> Any:  # the stubs type it as IntegerField's
        ascii_digits_only(value)
        return super().to_python(value)


class OrderForm(forms.Form):
    required_css_class = "required"

    side = forms.ChoiceField(choices=Side.choices, widget=forms.RadioSelect, initial=Side.BUY)
    type = forms.ChoiceField(
        label="Order type",
        choices=[(OrderType.LIMIT, "Limit"), (OrderType.MARKET, "Market")],
        initial=OrderType.LIMIT,
    )
    quantity = AsciiIntegerField(
        min_value=1,
        help_text="Whole shares.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": "1", "min": "1"}),
    )
    price = AsciiDecimalField(
        label="Limit price ($)",
        required=False,
        max_digits=9,
        decimal_places=2,
        help_text="The most you pay (buy) or the least you accept (sell). Not used by market orders.",
        widget=forms.TextInput(attrs=PRICE_ATTRS),
    )
    time_in_force = forms.ChoiceField(
        label="Time in force",
        choices=[
            (TimeInForce.DAY, "Day"),
            (TimeInForce.GTC, "Good till cancelled"),
            (TimeInForce.IOC, "Immediate or cancel"),
        ],
        help_text="Day: until the close. Good till cancelled: up to 90 days. "
        "Immediate or cancel: fills now or never.",
        initial=TimeInForce.DAY,
    )
    client_order_id = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("type") == OrderType.MARKET:
            cleaned["price"] = None
            cleaned["time_in_force"] = TimeInForce.DAY
        elif (
            cleaned.get("type") == OrderType.LIMIT
            and cleaned.get("price") is None
            and "price" not in self.errors
        ):
            self.add_error("price", "A limit order needs a price.")
        return cleaned

    def order_arguments(self) -> dict[str, Any]:
        """The cleaned data as `order_place` takes it."""
        data = self.cleaned_data
        return {
            "side": data["side"],
            "type": data["type"],
            "quantity": data["quantity"],
            "price": data["price"],
            "time_in_force": data["time_in_force"],
            "client_order_id": data.get("client_order_id") or None,
        }


class ListingForm(forms.Form):
    required_css_class = "required"

    symbol = forms.CharField(
        max_length=12,
        min_length=3,
        help_text="3 to 12 letters or digits; suggested from the vehicle.",
        widget=forms.TextInput(
            attrs={"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    total_shares = AsciiIntegerField(
        min_value=1,
        max_value=settings.MARKET_MAX_TOTAL_SHARES,
        help_text="You receive every share; they are never created or destroyed later.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": "1"}),
    )
    listing_price = AsciiDecimalField(
        label="Listing price ($)",
        min_value=Decimal("0.01"),
        max_digits=10,
        decimal_places=2,
        help_text="Your cost basis per share. Trading starts at the next opening auction.",
        widget=forms.TextInput(attrs=PRICE_ATTRS),
    )

    def clean_symbol(self) -> str:
        return str(self.cleaned_data["symbol"]).strip().upper()
