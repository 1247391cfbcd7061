from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from vehicles.validators import validate_vin


@pytest.mark.parametrize(
    "vin",
    [
        "1M8GDM9AXKP042788",  # the textbook example: check digit X
        "1HGCM82633A004352",  # a 2003 Honda Accord
        "JH4KA7561PC008269",  # a 1993 Acura Legend
        "1hgcm82633a004352",  # lower case is read as upper case
    ],
)
def test_real_world_vins_are_accepted(vin):
    validate_vin(vin)


def test_wrong_check_digit_is_rejected_with_the_expected_digit():
    with pytest.raises(ValidationError) as caught:
        validate_vin("1HGCM82643A004352")

    assert caught.value.messages == [
        "The VIN's check digit (9th character) is 4 but should be 3: the VIN is mistyped."
    ]


@pytest.mark.parametrize(("vin", "length"), [("1HGCM82633A00435", 16), ("1HGCM82633A0043521", 18)])
def test_a_vin_of_the_wrong_length_is_rejected(vin, length):
    with pytest.raises(ValidationError) as caught:
        validate_vin(vin)

    assert caught.value.messages == [f"A VIN has exactly 17 characters; this one has {length}."]


@pytest.mark.parametrize("letter", ["I", "O", "Q"])
def test_the_letters_i_o_and_q_are_rejected(letter):
    vin = "1HGCM82633A00435" + letter

    with pytest.raises(ValidationError) as caught:
        validate_vin(vin)

    assert caught.value.messages == [
        f"A VIN uses digits and letters other than I, O and Q; found {letter}."
    ]
