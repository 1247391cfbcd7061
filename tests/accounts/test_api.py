from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory

REGISTER_URL = "/api/v1/auth/register/"
TOKEN_URL = "/api/v1/auth/token/"
GOOD_PASSWORD = "velvet-gearbox-1987"


@pytest.mark.django_db
def test_register_api_creates_user_and_returns_it(api_client):
    response = api_client.post(
        REGISTER_URL,
        {"username": "alice", "password": GOOD_PASSWORD, "display_name": "Alice"},
        format="json",
    )

    assert response.status_code == 201
    user = User.objects.get(username="alice")
    assert response.json() == {"id": user.pk, "username": "alice", "display_name": "Alice"}
    assert "password" not in response.json()


@pytest.mark.django_db
def test_register_api_rejects_duplicate_username_as_field_error(api_client):
    UserFactory(username="alice")

    response = api_client.post(
        REGISTER_URL, {"username": "Alice", "password": GOOD_PASSWORD}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "username_taken",
        "detail": "A user with that username already exists.",
        "fields": {"username": ["A user with that username already exists."]},
    }


@pytest.mark.django_db
def test_register_api_rejects_weak_password_as_field_error(api_client):
    response = api_client.post(
        REGISTER_URL, {"username": "bob", "password": "12345678"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "registration_invalid"
    assert "This password is too common." in body["fields"]["password"]
    assert not User.objects.filter(username="bob").exists()


@pytest.mark.django_db
def test_register_api_requires_username_and_password(api_client):
    response = api_client.post(REGISTER_URL, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username", "password"}


@pytest.mark.django_db
def test_register_api_is_throttled_after_many_attempts(api_client):
    for _ in range(30):
        api_client.post(REGISTER_URL, {}, format="json")

    response = api_client.post(REGISTER_URL, {}, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


@pytest.mark.django_db
def test_token_api_returns_the_users_token(api_client):
    user = UserFactory(username="carol")

    response = api_client.post(
        TOKEN_URL, {"username": "carol", "password": DEFAULT_PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=user).key}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "password"), [("carol", "not-the-password"), ("nobody", DEFAULT_PASSWORD)]
)
def test_token_api_rejects_bad_credentials_with_a_clear_message(api_client, username, password):
    UserFactory(username="carol")

    response = api_client.post(
        TOKEN_URL, {"username": username, "password": password}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_credentials",
        "detail": "The username or password is incorrect, or the account is disabled.",
        "fields": {
            "non_field_errors": [
                "The username or password is incorrect, or the account is disabled."
            ]
        },
    }


@pytest.mark.django_db
def test_token_api_requires_both_fields(api_client):
    response = api_client.post(TOKEN_URL, {"username": "carol"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"password"}


@pytest.mark.django_db
def test_token_from_the_api_authenticates_a_write_endpoint(api_client):
    UserFactory(username="dave")
    token = api_client.post(
        TOKEN_URL, {"username": "dave", "password": DEFAULT_PASSWORD}, format="json"
    ).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = api_client.post(
        "/api/v1/vehicles/",
        {"make": "Honda", "model": "Accord", "year": 2003, "vin": "1HGCM82633A004352"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["owner"]["display_name"] == User.objects.get(username="dave").public_name


@pytest.mark.django_db
def test_an_unknown_token_is_refused_with_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = api_client.get("/api/v1/vehicles/")

    assert response.status_code == 401
