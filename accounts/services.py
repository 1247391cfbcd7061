"""Writes for users and API tokens."""

from __future__ import annotations

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from accounts.errors import (
    CredentialsInvalid,
    ProfileInvalid,
    RegistrationInvalid,
    UsernameTaken,
)
from accounts.hooks import hooks_get
from accounts.models import User


def user_register(*, username: str, password: str, display_name: str = "") -> User:
    """Create a user and run `settings.ACCOUNTS_USER_REGISTERED_HOOKS` in the same transaction.

    Takes no lock: the unique username index settles a race (the loser gets UsernameTaken).
    Raises RegistrationInvalid (field errors, password rules included) or UsernameTaken.
    """
    user = User(
        username=User.normalize_username(username.strip()), display_name=display_name.strip()
    )
    errors: dict[str, list[str]] = {}
    try:
        user.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as error:
        errors.update(RegistrationInvalid.from_django(error).fields)
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as error:
        errors["password"] = list(error.messages)
    if errors:
        raise RegistrationInvalid(errors)
    if User.objects.filter(username__iexact=user.username).exists():
        raise UsernameTaken()
    user.set_password(password)

    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as error:
            raise UsernameTaken() from error
        for hook in hooks_get("ACCOUNTS_USER_REGISTERED_HOOKS"):
            hook(user=user)
    return user


def user_update(*, user: User, display_name: str) -> User:
    """Change what the user is called on leaderboards. Takes no lock (one row, last write wins)."""
    user.display_name = display_name.strip()
    try:
        user.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as error:
        raise ProfileInvalid.from_django(error) from error
    with transaction.atomic(durable=True):
        user.save(update_fields=["display_name"])
    return user


def auth_token_obtain(
    *, request: HttpRequest | Request | None, username: str, password: str
) -> Token:
    """The user's API token, created on first use. Raises CredentialsInvalid. Takes no lock."""
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        raise CredentialsInvalid()
    with transaction.atomic(durable=True):
        token, _created = Token.objects.get_or_create(user=user)
    return token
