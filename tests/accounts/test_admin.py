from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import UserFactory

FACTORIES = {"user": UserFactory}
REGISTERED = sorted(
    model._meta.model_name for model in admin.site._registry if model._meta.app_label == "accounts"
)


def test_every_registered_accounts_model_has_a_factory_here():
    assert sorted(FACTORIES) == REGISTERED


@pytest.mark.django_db
@pytest.mark.parametrize("model_name", REGISTERED)
def test_admin_pages_load_for_staff(client, model_name):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    instance = FACTORIES[model_name]()

    for url in (
        reverse(f"admin:accounts_{model_name}_changelist"),
        reverse(f"admin:accounts_{model_name}_changelist") + "?q=user",
        reverse(f"admin:accounts_{model_name}_add"),
        reverse(f"admin:accounts_{model_name}_change", args=[instance.pk]),
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_admin_user_page_shows_display_name(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    user = UserFactory(display_name="Speedy Racer")

    response = client.get(reverse("admin:accounts_user_change", args=[user.pk]))

    assert 'name="display_name"' in response.content.decode()
    assert "Speedy Racer" in response.content.decode()
