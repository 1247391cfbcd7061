"""market.money.to_decimal: plain ASCII decimal strings, ints and Decimals only."""

from decimal import Decimal

import pytest

from market.money import to_decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [("98.50", Decimal("98.50")), (" 7 ", Decimal("7")), (12, Decimal("12"))],
)
def test_plain_numbers_are_read(value: object, expected: Decimal) -> None:
    assert to_decimal(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "\uff11\uff10\uff10.\uff15\uff10",
        "\u0661\u0660\u0660",
        "1e2",
        "1_000",
        "+5",
        "5.",
        ".5",
        "NaN",
    ],
)
def test_other_spellings_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a plain decimal"):
        to_decimal(value)


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        to_decimal(98.5)
