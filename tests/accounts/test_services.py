from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from accounts.errors import CredentialsInvalid, ProfileInvalid, RegistrationInvalid, UsernameTaken
from accounts.models import User
from accounts.services import auth_token_obtain, user_register, user_update
from tests.factories import DEFAULT_PASSWORD, UserFactory

GOOD_PASSWORD = "velvet-gearbox-1987"
hook_calls: list[dict] = []


def record_hook(*, user):
    hook_calls.append(
        {
            "user": user,
            "in_transaction": connection.in_atomic_block,
            "user_is_saved": User.objects.filter(pk=user.pk).exists(),
        }
    )


def second_hook(*, user):
    hook_calls.append({"second": user.username})


def failing_hook(*, user):
    raise RuntimeError("the market could not open the cash account")


@pytest.fixture(autouse=True)
def _clear_hook_calls():
    hook_calls.clear()


@pytest.mark.django_db
def test_register_creates_user_with_hashed_password_and_display_name():
    user = user_register(username="alice", password=GOOD_PASSWORD, display_name=" Alice ")

    user.refresh_from_db()
    assert user.username == "alice"
    assert user.display_name == "Alice"
    assert user.check_password(GOOD_PASSWORD)
    assert user.password != GOOD_PASSWORD


@pytest.mark.django_db
def test_register_without_display_name_uses_username_publicly():
    user = user_register(username="bob", password=GOOD_PASSWORD)

    assert user.public_name == "bob"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
        ("8374619250", "This password is entirely numeric."),
        ("carolcarol1", "The password is too similar to the username."),
    ],
)
def test_register_rejects_weak_password_under_the_password_field(password, message):
    with pytest.raises(RegistrationInvalid) as caught:
        user_register(username="carolcarol1", password=password)

    assert message in caught.value.fields["password"]
    assert not User.objects.filter(username="carolcarol1").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["Dave", "dave", "DAVE"])
def test_register_rejects_taken_username_whatever_its_case(username):
    UserFactory(username="dave")

    with pytest.raises(UsernameTaken) as caught:
        user_register(username=username, password=GOOD_PASSWORD)

    assert caught.value.as_dict()["fields"] == {
        "username": ["A user with that username already exists."]
    }


@pytest.mark.django_db
def test_register_rejects_username_with_spaces_and_too_long_display_name():
    with pytest.raises(RegistrationInvalid) as caught:
        user_register(username="eve smith", password=GOOD_PASSWORD, display_name="x" * 41)

    assert set(caught.value.fields) == {"username", "display_name"}


@pytest.mark.django_db(transaction=True)
@override_settings(
    ACCOUNTS_USER_REGISTERED_HOOKS=[f"{__name__}.record_hook", f"{__name__}.second_hook"]
)
def test_register_calls_each_hook_in_order_inside_the_registration_transaction():
    assert not connection.in_atomic_block

    user = user_register(username="frank", password=GOOD_PASSWORD)

    assert hook_calls == [
        {"user": user, "in_transaction": True, "user_is_saved": True},
        {"second": "frank"},
    ]


@pytest.mark.django_db
@override_settings(ACCOUNTS_USER_REGISTERED_HOOKS=[f"{__name__}.failing_hook"])
def test_register_is_undone_when_a_hook_fails():
    with pytest.raises(RuntimeError):
        user_register(username="grace", password=GOOD_PASSWORD)

    assert not User.objects.filter(username="grace").exists()


@pytest.mark.django_db
def test_user_update_changes_display_name():
    user = UserFactory(display_name="Old")

    user_update(user=user, display_name="  New name ")

    user.refresh_from_db()
    assert user.display_name == "New name"


@pytest.mark.django_db
def test_user_update_rejects_display_name_over_40_characters():
    user = UserFactory(display_name="Old")

    with pytest.raises(ProfileInvalid) as caught:
        user_update(user=user, display_name="x" * 41)

    assert "display_name" in caught.value.fields
    user.refresh_from_db()
    assert user.display_name == "Old"


@pytest.mark.django_db
def test_auth_token_obtain_returns_the_same_token_each_time():
    user = UserFactory()

    first = auth_token_obtain(request=None, username=user.username, password=DEFAULT_PASSWORD)
    second = auth_token_obtain(request=None, username=user.username, password=DEFAULT_PASSWORD)

    assert first.key == second.key
    assert first.user == user


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "password", "is_active"),
    [
        ("ivan", "wrong-password", True),
        ("nobody", DEFAULT_PASSWORD, True),
        ("ivan", DEFAULT_PASSWORD, False),
    ],
)
def test_auth_token_obtain_refuses_bad_credentials_and_disabled_users(
    username, password, is_active
):
    UserFactory(username="ivan", is_active=is_active)

    with pytest.raises(CredentialsInvalid):
        auth_token_obtain(request=None, username=username, password=password)
