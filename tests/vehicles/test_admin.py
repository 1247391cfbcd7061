from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import (
    UserFactory,
    VehicleEventFactory,
    VehicleFactory,
    VehiclePhotoFactory,
    VehicleSpecFactory,
)

FACTORIES = {"vehicle": VehicleFactory}
REGISTERED = sorted(
    model._meta.model_name for model in admin.site._registry if model._meta.app_label == "vehicles"
)


def test_every_registered_vehicles_model_has_a_factory_here():
    assert sorted(FACTORIES) == REGISTERED


@pytest.mark.django_db
@pytest.mark.parametrize("model_name", REGISTERED)
def test_admin_pages_load_for_staff(client, model_name):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    instance = FACTORIES[model_name]()

    for url in (
        reverse(f"admin:vehicles_{model_name}_changelist"),
        reverse(f"admin:vehicles_{model_name}_changelist") + "?q=porsche",
        reverse(f"admin:vehicles_{model_name}_add"),
        reverse(f"admin:vehicles_{model_name}_change", args=[instance.pk]),
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_admin_vehicle_page_shows_photo_spec_and_event_inlines(client, vehicle):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    VehiclePhotoFactory(vehicle=vehicle)
    VehicleSpecFactory(vehicle=vehicle, name="Engine")
    VehicleEventFactory(vehicle=vehicle, title="Built in Stuttgart")

    html = client.get(reverse("admin:vehicles_vehicle_change", args=[vehicle.pk])).content.decode()

    assert 'name="photos-TOTAL_FORMS" value="1"' in html
    assert "Engine" in html
    assert "Built in Stuttgart" in html
