"""factory_boy factories shared by the whole suite: `from tests.factories import UserFactory`."""

from __future__ import annotations

import datetime

import factory
from factory.django import DjangoModelFactory

from accounts.models import User
from vehicles.models import Vehicle, VehicleEvent, VehiclePhoto, VehicleSpec
from vehicles.validators import vin_check_digit

DEFAULT_PASSWORD = "correct-horse-battery-staple"


def make_vin(serial: int) -> str:
    """A valid, unique-per-serial VIN: a Honda-style prefix, the right check digit, the serial."""
    draft = f"1HGCM8263A{serial % 10_000_000:07d}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"Trader {n}")
    password = factory.django.Password(DEFAULT_PASSWORD)


class VehicleFactory(DjangoModelFactory):
    class Meta:
        model = Vehicle

    owner = factory.SubFactory(UserFactory)
    make = "Porsche"
    model = "911"
    year = 1989
    vin = factory.Sequence(make_vin)
    trim = "Carrera 4"
    mileage = 84_000
    colour = "Guards Red"
    description = "A well-kept air-cooled 911."


class VehicleSpecFactory(DjangoModelFactory):
    class Meta:
        model = VehicleSpec

    vehicle = factory.SubFactory(VehicleFactory)
    name = factory.Sequence(lambda n: f"Spec {n}")
    value = "3.6 L flat-six"
    position = factory.Sequence(int)


class VehicleEventFactory(DjangoModelFactory):
    class Meta:
        model = VehicleEvent

    vehicle = factory.SubFactory(VehicleFactory)
    date = datetime.date(1989, 6, 1)
    title = "Built in Stuttgart"
    text = ""


class VehiclePhotoFactory(DjangoModelFactory):
    class Meta:
        model = VehiclePhoto

    vehicle = factory.SubFactory(VehicleFactory)
    image = factory.django.ImageField(color="red", width=80, height=50, filename="photo.png")
    caption = "Front three-quarter view"
    position = factory.Sequence(int)
