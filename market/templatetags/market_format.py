"""How the market's pages show prices, amounts, changes and sparklines.

Amounts arrive as Decimals or decimal strings (the selectors' and the API's); nothing here
turns them into floats. The change markup is the one `static/js/ticker.js` renders live, so a
page reads the same before and after its first update.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

CENT = Decimal("0.01")
ARROWS = {"up": "▲", "down": "▼", "flat": "■"}
WORDS = {"up": "Up", "down": "Down", "flat": "Unchanged"}
PHASE_LABELS = {
    "pre_open": "Pre-open (call)",
    "continuous": "Continuous trading",
    "closing_call": "Closing call",
    "halted": "Halted",
    "delisted": "Delisted",
}
TRANSITION_LABELS = {
    "opening_auction": "Opening auction",
    "closing_call": "Closing call",
    "closing_auction": "Closing auction",
}
BADGE_LABELS = {
    "first_trade": "First trade",
    "streak_5": "5-day streak",
    "streak_10": "10-day streak",
    "top_10": "Top-10 finish",
    "liquidity_provider": "Liquidity provider",
    "auction_regular": "Auction regular",
}
DASH = "—"
MINUS = "\u2212"  # the typographic minus sign, as ticker.js shows it


def as_decimal(value: object) -> Decimal | None:
    if value is None or value == "" or isinstance(value, float | bool):
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _grouped(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):,}"


@register.filter
def price(value: object) -> str:
    """98.5 -> "98.50", 12345 -> "12,345.00"; missing -> an em dash."""
    amount = as_decimal(value)
    return DASH if amount is None else _grouped(amount)


@register.filter
def money(value: object) -> str:
    """-1234.5 -> "$1,234.50" after a minus sign (MINUS)."""
    amount = as_decimal(value)
    if amount is None:
        return DASH
    text = _grouped(abs(amount))
    return f"{MINUS}${text}" if amount < 0 else f"${text}"


@register.filter
def signed_money(value: object) -> str:
    """A profit or loss: "+$12.00", MINUS + "$3.50", "$0.00"."""
    amount = as_decimal(value)
    if amount is None:
        return DASH
    text = money(value)
    return f"+{text}" if amount.quantize(CENT) > 0 else text


@register.filter
def signed_percent(value: object) -> str:
    amount = as_decimal(value)
    if amount is None:
        return DASH
    text = f"{abs(amount).quantize(CENT, rounding=ROUND_HALF_UP)}%"
    if amount.quantize(CENT) > 0:
        return f"+{text}"
    return f"{MINUS}{text}" if amount.quantize(CENT) < 0 else text


@register.filter
def direction(value: object) -> str:
    """ "up", "down" or "flat": the class that colours a change (beside its arrow and sign)."""
    amount = as_decimal(value)
    if amount is None or amount.quantize(CENT) == 0:
        return "flat"
    return "up" if amount > 0 else "down"


@register.filter
def phase_label(value: object) -> str:
    return PHASE_LABELS.get(str(value), str(value or DASH))


@register.filter
def transition_label(value: object) -> str:
    return TRANSITION_LABELS.get(str(value), str(value or DASH))


@register.filter
def badge_label(value: object) -> str:
    return BADGE_LABELS.get(str(value), str(value).replace("_", " ").capitalize())


@register.simple_tag
def change(amount: object, percent: object = None) -> SafeString:
    """The change vs the previous close: arrow AND sign AND colour, and a word for screen
    readers. The same markup as ticker.js's renderChange."""
    value = as_decimal(amount)
    if value is None:
        return format_html('<span class="change flat" data-field="change">{}</span>', DASH)
    way = direction(value)
    sign = "+" if way == "up" else (MINUS if way == "down" else "")
    text = f"{sign}{_grouped(abs(value))}"
    if as_decimal(percent) is not None:
        text = f"{text} ({signed_percent(percent)})"
    return format_html(
        '<span class="change {}" data-field="change"><span aria-hidden="true">{}</span> '
        '<span class="visually-hidden">{} </span>{}</span>',
        way,
        ARROWS[way],
        WORDS[way],
        text,
    )


@register.simple_tag
def pnl(amount: object, percent: object = None) -> SafeString:
    """A profit or loss in dollars: arrow AND sign AND colour, like `change`."""
    value = as_decimal(amount)
    if value is None:
        return format_html('<span class="change flat">{}</span>', DASH)
    way = direction(value)
    text = signed_money(value)
    if as_decimal(percent) is not None:
        text = f"{text} ({signed_percent(percent)})"
    return format_html(
        '<span class="change {}"><span aria-hidden="true">{}</span> '
        '<span class="visually-hidden">{} </span>{}</span>',
        way,
        ARROWS[way],
        {"up": "Gain", "down": "Loss", "flat": "Even"}[way],
        text,
    )


SPARK_WIDTH = 120
SPARK_HEIGHT = 32
SPARK_PAD = 2


def sparkline_points(prices: Sequence[Decimal]) -> str:
    """SVG polyline points for `prices`, oldest first, scaled into the sparkline's box.
    Coordinates are Decimals rounded to a tenth of a pixel (no floats)."""
    if not prices:
        return ""
    if len(prices) == 1:
        prices = [prices[0], prices[0]]
    low, high = min(prices), max(prices)
    span = high - low
    inner_height = Decimal(SPARK_HEIGHT - 2 * SPARK_PAD)
    step = Decimal(SPARK_WIDTH - 2 * SPARK_PAD) / (len(prices) - 1)
    points = []
    for index, value in enumerate(prices):
        x = SPARK_PAD + step * index
        ratio = (value - low) / span if span else Decimal("0.5")
        y = SPARK_PAD + inner_height * (1 - ratio)
        points.append(f"{x.quantize(Decimal('0.1'))},{y.quantize(Decimal('0.1'))}")
    return " ".join(points)


@register.simple_tag
def sparkline(prices: Sequence[object], label: str = "") -> SafeString:
    """A small inline SVG of the day's prices; an empty box when there were no trades."""
    values = [amount for amount in (as_decimal(p) for p in prices or ()) if amount is not None]
    if not values:
        return format_html(
            '<svg class="sparkline sparkline-empty" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            'preserveAspectRatio="none" role="img" aria-label="{}"><line x1="2" y1="{mid}" x2="{end}" y2="{mid}"/></svg>',
            label or "No trades today",
            w=SPARK_WIDTH,
            h=SPARK_HEIGHT,
            mid=SPARK_HEIGHT // 2,
            end=SPARK_WIDTH - 2,
        )
    way = direction(values[-1] - values[0])
    return format_html(
        '<svg class="sparkline {}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'preserveAspectRatio="none" role="img" aria-label="{}"><polyline points="{}"/></svg>',
        way,
        label or f"Today's prices, {len(values)} points",
        sparkline_points(values),
        w=SPARK_WIDTH,
        h=SPARK_HEIGHT,
    )


@register.filter
def depth_percent(quantity: object, widest: object) -> str:
    """A level's quantity as a percentage of the book's widest level (the depth bar)."""
    try:
        part, whole = int(str(quantity)), int(str(widest))
    except ValueError:
        return "0%"
    if whole <= 0:
        return "0%"
    return f"{max(2, (100 * part + whole // 2) // whole)}%"
