"""Sign-up and log-in are throttled per client address, the pages and the API together
(accounts/throttles.py). tests/accounts/conftest.py starts each test with no count."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def one_attempt_a_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "auth": "1/minute",
        },
    }


def assert_refused_page(response) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Too many attempts from your address" in response.content.decode()


@pytest.mark.django_db
def test_login_page_refuses_a_second_attempt_with_429_and_logs_nobody_in(
    client, one_attempt_a_minute
):
    user = UserFactory()
    client.post(reverse("accounts:login"), {"username": user.username, "password": "wrong-1"})

    response = client.post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )

    assert_refused_page(response)
    assert "_auth_user_id" not in client.session
    assert 'name="username"' in response.content.decode()


@pytest.mark.django_db
def test_signup_page_refuses_past_the_rate_and_creates_nobody(client, one_attempt_a_minute):
    client.post(reverse("accounts:signup"), {"username": "x"})

    response = client.post(
        reverse("accounts:signup"),
        {
            "username": "alice",
            "display_name": "Alice",
            "password1": "velvet-gearbox-1987",
            "password2": "velvet-gearbox-1987",
        },
    )

    assert_refused_page(response)
    assert not User.objects.filter(username="alice").exists()


@pytest.mark.django_db
def test_showing_the_login_page_is_not_counted(client, one_attempt_a_minute):
    for _ in range(3):
        assert client.get(reverse("accounts:login")).status_code == 200

    response = client.post(reverse("accounts:login"), {"username": "nobody", "password": "x"})

    assert response.status_code == 200


@pytest.mark.django_db
def test_the_api_and_the_pages_share_one_count_per_address(
    client, api_client, one_attempt_a_minute
):
    user = UserFactory()
    client.post(reverse("accounts:login"), {"username": user.username, "password": "wrong-1"})

    response = api_client.post(
        TOKEN_URL, {"username": user.username, "password": DEFAULT_PASSWORD}, format="json"
    )

    assert response.status_code == 429
    assert response["Retry-After"]
    assert (response.json()["code"], response.json()["fields"]) == ("throttled", {})
