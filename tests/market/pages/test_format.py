"""How pages show money, changes and sparklines (market/templatetags/market_format.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from market.page_selectors import SPARKLINE_POINTS, _thin
from market.templatetags import market_format as fmt


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("-3.456"), "\u2212$3.46"),
        ("0", "$0.00"),
        (None, "—"),
        (1.5, "—"),  # floats are never money
    ],
)
def test_money_formats_dollars_and_cents(value, expected):
    assert fmt.money(value) == expected


@pytest.mark.parametrize(
    ("amount", "percent", "way", "text"),
    [
        ("1.00", "1.00", "up", '▲</span> <span class="visually-hidden">Up </span>+1.00 (+1.00%)'),
        (
            "-2.50",
            "-2.44",
            "down",
            '▼</span> <span class="visually-hidden">Down </span>\u22122.50 (\u22122.44%)',
        ),
        (
            "0.00",
            "0.00",
            "flat",
            '■</span> <span class="visually-hidden">Unchanged </span>0.00 (0.00%)',
        ),
    ],
)
def test_change_shows_arrow_sign_and_colour_class(amount, percent, way, text):
    html = fmt.change(Decimal(amount), Decimal(percent))

    assert f'class="change {way}"' in html
    assert text in html


def test_sparkline_scales_prices_into_its_box_without_floats():
    points = fmt.sparkline_points([Decimal("10"), Decimal("12"), Decimal("11")])

    assert points == "2.0,30.0 60.0,2.0 118.0,16.0"


def test_sparkline_of_a_day_without_trades_is_an_empty_line():
    html = fmt.sparkline([], "No trades")

    assert "sparkline-empty" in html
    assert 'aria-label="No trades"' in html


def test_a_busy_day_is_thinned_to_the_sparklines_points_keeping_the_last():
    prices = [Decimal(n) for n in range(500)]

    thinned = _thin(prices)

    assert len(thinned) == SPARKLINE_POINTS
    assert (thinned[0], thinned[-1]) == (Decimal(0), Decimal(499))


def test_depth_bar_is_a_share_of_the_widest_level():
    assert (fmt.depth_percent(5, 10), fmt.depth_percent(1, 1000), fmt.depth_percent(3, 0)) == (
        "50%",
        "2%",
        "0%",
    )
