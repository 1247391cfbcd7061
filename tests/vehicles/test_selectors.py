from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from tests.factories import (
    VehicleEventFactory,
    VehicleFactory,
    VehiclePhotoFactory,
    VehicleSpecFactory,
)
from vehicles.errors import VehicleNotFound, VehicleNotOwned
from vehicles.selectors import vehicle_detail, vehicle_get_editable, vehicle_list


@pytest.mark.django_db
def test_vehicle_list_takes_two_queries_however_many_vehicles(django_assert_num_queries):
    for vehicle in VehicleFactory.create_batch(5):
        VehiclePhotoFactory.create_batch(2, vehicle=vehicle)

    with django_assert_num_queries(2):
        covers = [(v.owner.username, v.cover_url) for v in vehicle_list()]

    assert len(covers) == 5


@pytest.mark.django_db
def test_vehicle_list_is_newest_first_and_searches_make_model_year_and_vin():
    old = VehicleFactory(make="Ford", model="Mustang", year=1967)
    new = VehicleFactory(make="Tesla", model="Model 3", year=2021)

    assert list(vehicle_list()) == [new, old]
    assert list(vehicle_list(search="mustang")) == [old]
    assert list(vehicle_list(search="tesla 2021")) == [new]
    assert list(vehicle_list(search=old.vin.lower())) == [old]
    assert list(vehicle_list(search="Ferrari")) == []


@pytest.mark.django_db
def test_vehicle_list_filters_by_owner(owner):
    mine = VehicleFactory(owner=owner)
    VehicleFactory()

    assert list(vehicle_list(owner=owner)) == [mine]


@pytest.mark.django_db
def test_vehicle_detail_takes_four_queries_and_knows_the_owner(
    vehicle, owner, django_assert_num_queries
):
    VehiclePhotoFactory.create_batch(2, vehicle=vehicle)
    VehicleSpecFactory.create_batch(3, vehicle=vehicle)
    VehicleEventFactory.create_batch(2, vehicle=vehicle)

    with django_assert_num_queries(4):
        detail = vehicle_detail(vehicle_id=vehicle.pk, viewer=owner)
        owner_name = detail.vehicle.owner.public_name

    assert (len(detail.photos), len(detail.specs), len(detail.events)) == (2, 3, 2)
    assert detail.is_owner
    assert owner_name == owner.public_name
    assert detail.cover_url == detail.photos[0].image.url


@pytest.mark.django_db
def test_vehicle_detail_for_a_visitor_without_photos_uses_the_placeholder(vehicle):
    detail = vehicle_detail(vehicle_id=vehicle.pk, viewer=AnonymousUser())

    assert not detail.is_owner
    assert detail.cover_url == f"/vehicles/{vehicle.pk}/placeholder.svg"


@pytest.mark.django_db
def test_vehicle_detail_of_an_unknown_vehicle_is_not_found():
    with pytest.raises(VehicleNotFound):
        vehicle_detail(vehicle_id=404, viewer=AnonymousUser())


@pytest.mark.django_db
def test_vehicle_get_editable_is_for_the_owner_only(vehicle, owner, stranger):
    assert vehicle_get_editable(vehicle_id=vehicle.pk, user=owner) == vehicle
    with pytest.raises(VehicleNotOwned):
        vehicle_get_editable(vehicle_id=vehicle.pk, user=stranger)
    with pytest.raises(VehicleNotOwned):
        vehicle_get_editable(vehicle_id=vehicle.pk, user=AnonymousUser())
