"""Input parsing and output shapes of the market API (MARKET_RULES 10).

Inputs parse types strictly (a quantity is a JSON integer, a price a decimal string) and leave
the market's rules (ticks, price limits, the instrument's share count) to the services, which
answer with the offending field too. Outputs carry amounts as decimal strings with two places.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from market.models import (
    AuctionRecord,
    LedgerEntry,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TradeKind,
)
from market.selectors import ORDER_STATUS_FILTERS, order_fills

# A plain decimal: ASCII digits, optionally a point and more digits. No sign, exponent or spaces
# inside; a minus sign is let through so that the service can say why a price must be positive.
# ("\d" would let in the digits of every script, fullwidth or Arabic-Indic ones among them,
# which Decimal reads as ASCII ones.)
PLAIN_DECIMAL = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$")


# --- strict input fields --------------------------------------------------------------------


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: strings, floats and booleans are refused, not coerced."""

    default_error_messages = {
        "invalid": "A whole number is required, as a JSON integer such as 10.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string: numbers and booleans are refused, not coerced."""

    default_error_messages = {"invalid": "A string is required."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^\d+(\.\d{1,2})?$",
        "example": "98.50",
    }
)
class PriceField(serializers.Field):
    """Dollars and cents: a string holding a plain decimal ("98.50") or a JSON integer (98).

    JSON numbers with a fraction are refused: they arrive as floats, which cannot hold cents.
    So are exponents ("1e2"), "NaN", "Infinity" and empty strings.
    """

    default_error_messages = {
        "invalid": 'A price is a string of dollars and cents such as "98.50".',
        "float": 'Send the price as a string such as "98.50", not as a JSON number with a '
        "fraction.",
    }

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, float):
            self.fail("float")
        if isinstance(data, int):
            return Decimal(data)
        if not isinstance(data, str) or not PLAIN_DECIMAL.match(data.strip()):
            self.fail("invalid")
        return Decimal(data.strip())

    def to_representation(self, value: Any) -> str:
        return str(value)


def money(**kwargs: Any) -> serializers.DecimalField:
    """An amount as a decimal string with two places."""
    return serializers.DecimalField(
        max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP, read_only=True, **kwargs
    )


def nullable_money(**kwargs: Any) -> serializers.DecimalField:
    return money(allow_null=True, **kwargs)


# --- inputs ---------------------------------------------------------------------------------


class OrderPlaceInput(serializers.Serializer):
    symbol = StrictCharField(max_length=32)
    side = serializers.ChoiceField(choices=Side.choices)
    type = serializers.ChoiceField(choices=OrderType.choices, default=OrderType.LIMIT)
    quantity = StrictIntegerField(
        min_value=1,
        max_value=settings.MARKET_MAX_TOTAL_SHARES,
        help_text="Whole shares, 1 to the instrument's total shares.",
    )
    price = PriceField(
        required=False,
        allow_null=True,
        default=None,
        help_text='The limit in dollars, e.g. "98.50"; leave it out for a market order.',
    )
    time_in_force = serializers.ChoiceField(choices=TimeInForce.choices, default=TimeInForce.DAY)
    client_order_id = StrictCharField(
        max_length=64,
        required=False,
        allow_null=True,
        default=None,
        help_text="Your own id, unique among your orders: a retry with it never places twice.",
    )


class InstrumentListInput(serializers.Serializer):
    symbol = StrictCharField(
        max_length=12,
        required=False,
        allow_blank=True,
        default=None,
        help_text="3 to 12 letters or digits; derived from the vehicle when left out.",
    )
    total_shares = StrictIntegerField(required=False, default=None, help_text="Default 1000.")
    listing_price = PriceField(required=False, default=None, help_text='Default "100.00".')


# Query parameters: the views name these serializers in their schema too, so that the schema
# states the same bounds that parsing enforces.


class BookQuery(serializers.Serializer):
    depth = serializers.IntegerField(
        min_value=1, max_value=50, default=10, help_text="Levels a side, 1 to 50."
    )


class TradesQuery(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=200, default=50, help_text="1 to 200, default 50."
    )


class BarsQuery(serializers.Serializer):
    minutes = serializers.IntegerField(
        min_value=1, max_value=390, default=30, help_text="How far back, 1 to 390, default 30."
    )


class OrdersQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=ORDER_STATUS_FILTERS,
        required=False,
        help_text="open means open or partially filled.",
    )


# --- outputs --------------------------------------------------------------------------------


class TickerOutput(serializers.Serializer):
    symbol = serializers.CharField()
    name = serializers.CharField(help_text="The vehicle.")
    phase = serializers.CharField(
        help_text="pre_open, continuous, closing_call, halted or delisted."
    )
    reference_price = money(help_text="Last trade, else last auction, else listing price.")
    last_price = nullable_money()
    previous_close = money()
    change = nullable_money(help_text="last_price - previous_close.")
    change_percent = nullable_money()
    open = nullable_money(help_text="The day's first trade.")
    high = nullable_money()
    low = nullable_money()
    volume = serializers.IntegerField(help_text="Shares traded on the trading date.")
    best_bid = nullable_money()
    best_bid_quantity = serializers.IntegerField(allow_null=True)
    best_ask = nullable_money()
    best_ask_quantity = serializers.IntegerField(allow_null=True)
    spread = nullable_money()
    indicative_price = nullable_money(help_text="In call phases: the auction price as of now.")
    indicative_volume = serializers.IntegerField(
        allow_null=True, help_text="In call phases: the shares the auction would trade now."
    )


class InstrumentOutput(TickerOutput):
    id = serializers.IntegerField()
    vehicle_id = serializers.IntegerField()
    status = serializers.CharField(help_text="active, halted or delisted.")
    total_shares = serializers.IntegerField()
    listing_price = money()
    first_trading_date = serializers.DateField()


class BookLevelOutput(serializers.Serializer):
    price = money()
    quantity = serializers.IntegerField(help_text="Shares resting at the price.")
    orders = serializers.IntegerField(help_text="Orders resting at the price.")


class BookOutput(serializers.Serializer):
    bids = BookLevelOutput(many=True, help_text="Best (highest) first.")
    asks = BookLevelOutput(many=True, help_text="Best (lowest) first.")


class TradeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    price = money()
    quantity = serializers.IntegerField()
    executed_at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=TradeKind.choices)


class BarOutput(serializers.Serializer):
    time = serializers.DateTimeField(help_text="The start of the minute.")
    open = money()
    high = money()
    low = money()
    close = money()
    volume = serializers.IntegerField()


class AuctionOutput(serializers.ModelSerializer):
    price = nullable_money(help_text="None when nothing crossed.")
    reference_price = money()
    surplus_side = serializers.CharField(allow_null=True)

    class Meta:
        model = AuctionRecord
        fields = [
            "id",
            "kind",
            "trading_date",
            "price",
            "volume",
            "surplus",
            "surplus_side",
            "reference_price",
            "orders_count",
            "ran_at",
        ]
        read_only_fields = fields


# An output that formats each value with its declared field as declared. DRF deep-copies every
# declared field and binds the copies to each serializer instance, for every object it renders:
# 1.4 ms of an order's answer (docs/benchmarks.md, change 28). The declared fields keep
# describing the output (the OpenAPI schema); the answer is what DRF's own `to_representation`
# gives (tests/market/api/test_order_answers.py). Plain values, dotted sources and `get_<name>`
# methods only. (A comment, not a docstring: the schema would show a docstring as the
# description of every output built on it.)
class DeclaredFieldsOutput(serializers.Serializer):
    def to_representation(self, instance: Any) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        for name, field in self._declared_fields.items():
            if isinstance(field, serializers.SerializerMethodField):
                answer[name] = getattr(self, field.method_name or f"get_{name}")(instance)
                continue
            value = instance
            for attribute in str(field.source or name).split("."):
                value = getattr(value, attribute)
            answer[name] = None if value is None else field.to_representation(value)
        return answer


class FillOutput(DeclaredFieldsOutput):
    price = money()
    quantity = serializers.IntegerField()
    executed_at = serializers.DateTimeField()


class OrderOutput(DeclaredFieldsOutput):
    # Every field declared, none derived from the model: a ModelSerializer builds its fields
    # from the model again for every instance (docs/benchmarks.md, change 27).
    id = serializers.IntegerField(read_only=True)
    symbol = serializers.CharField(source="instrument.symbol")
    side = serializers.ChoiceField(choices=Side.choices, read_only=True)
    type = serializers.ChoiceField(choices=OrderType.choices, read_only=True)
    quantity = serializers.IntegerField(read_only=True)
    price = nullable_money(help_text="The limit; null for a market order.")
    time_in_force = serializers.ChoiceField(choices=TimeInForce.choices, read_only=True)
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    filled_quantity = serializers.IntegerField(read_only=True)
    remaining_quantity = serializers.IntegerField()
    average_fill_price = nullable_money()
    client_order_id = serializers.CharField(read_only=True, allow_null=True)
    reserved_amount = money(help_text="Cash still locked for the unfilled part (buys).")
    fees_paid = money()
    created_at = serializers.DateTimeField(read_only=True)
    fills = serializers.SerializerMethodField()

    @extend_schema_field(FillOutput(many=True))
    def get_fills(self, order: Order) -> list[dict[str, Any]]:
        return FillOutput(order_fills(order), many=True).data  # type: ignore[return-value]


class AccountOutput(serializers.Serializer):
    cash_balance = money()
    cash_reserved = money(help_text="Locked by open buy orders.")
    cash_available = money(help_text="cash_balance - cash_reserved.")
    equity = money(help_text="cash_balance plus positions marked at their reference prices.")


class LedgerEntryOutput(serializers.ModelSerializer):
    kind = serializers.CharField(source="transaction.kind")
    amount = money(help_text="Positive credits the account, negative debits it.")
    trade_id = serializers.IntegerField(source="transaction.trade_id", allow_null=True)

    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "description", "trade_id", "created_at"]
        read_only_fields = fields


class PositionOutput(serializers.Serializer):
    symbol = serializers.CharField()
    quantity = serializers.IntegerField()
    quantity_available = serializers.IntegerField(help_text="Not locked by open sell orders.")
    average_cost = money()
    mark_price = money(help_text="The instrument's reference price.")
    market_value = money()
    cost_basis = money()
    unrealized_pnl = money()
    unrealized_pnl_percent = nullable_money()
    realized_pnl = money()


class PortfolioTotalsOutput(serializers.Serializer):
    market_value = money()
    unrealized_pnl = money()
    realized_pnl = money()
    cash = money()
    equity = money()


class PortfolioOutput(serializers.Serializer):
    positions = PositionOutput(many=True)
    totals = PortfolioTotalsOutput()
