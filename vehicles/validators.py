"""VIN validation (ISO 3779 / 49 CFR 565): 17 characters, no I, O or Q, and a check digit."""

from django.core.exceptions import ValidationError

_TRANSLITERATION = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    """The check digit (position 9) that `vin` should carry: '0'-'9' or 'X'."""
    total = sum(_TRANSLITERATION[char] * weight for char, weight in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def validate_vin(value: str) -> None:
    vin = value.upper()
    if len(vin) != 17:
        raise ValidationError(
            "A VIN has exactly 17 characters; this one has %(n)s.",
            params={"n": len(vin)},
            code="vin_length",
        )
    bad = sorted({char for char in vin if char not in _TRANSLITERATION})
    if bad:
        raise ValidationError(
            "A VIN uses digits and letters other than I, O and Q; found %(bad)s.",
            params={"bad": ", ".join(bad)},
            code="vin_characters",
        )
    expected = vin_check_digit(vin)
    if vin[8] != expected:
        raise ValidationError(
            "The VIN's check digit (9th character) is %(found)s but should be %(expected)s: "
            "the VIN is mistyped.",
            params={"found": vin[8], "expected": expected},
            code="vin_check_digit",
        )
