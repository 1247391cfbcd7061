"""API token authentication (DRF's authtoken tokens), read with one statement built once.

A program sends its token with every order. DRF's `TokenAuthentication` reads the token and its
user through the ORM, which compiles the same join on every request: a tenth of the web
worker's CPU per order in `make bench`. This reads the user by token key in SQL written once,
and the same function serves the WebSocket's `?token=` (market/consumers.py).
"""

from __future__ import annotations

import functools
from datetime import UTC
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


def user_for_token(key: str) -> Any | None:
    """The user of the token `key`, active or not, with the token's `created` as
    `token_created`; None when there is no such token. 1 query."""
    return next(iter(get_user_model().objects.raw(_user_by_token_sql(), [key])), None)


@functools.cache
def _user_by_token_sql() -> str:
    quote = connection.ops.quote_name
    user_meta = get_user_model()._meta
    # Named, not `u.*`: a statement prepared before a migration added a column would otherwise
    # fail ("cached plan must not change result type", config/settings/base.py).
    columns = ", ".join(f"u.{quote(field.column)}" for field in user_meta.concrete_fields)
    user_table = quote(user_meta.db_table)
    token_table = quote(Token._meta.db_table)
    return (
        f"SELECT {columns}, t.{quote('created')} AS token_created FROM {user_table} AS u "  # noqa: S608
        f"JOIN {token_table} AS t ON t.{quote('user_id')} = u.{quote('id')} "
        f"WHERE t.{quote('key')} = %s"
    )


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, answered as DRF's own answers it."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user = user_for_token(key)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        created = user.token_created
        if timezone.is_naive(created):  # SQLite keeps UTC without the offset
            created = timezone.make_aware(created, UTC)
        return user, Token(key=key, user=user, created=created)
