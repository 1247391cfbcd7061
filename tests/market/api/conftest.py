"""API test helpers: authenticated clients, and the market's invariants checked after each test."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from market.services.audit import audit_verify
from market.services.reconcile import reconcile


@pytest.fixture(autouse=True)
def books_reconcile_after_each_test(request: pytest.FixtureRequest):
    """Whatever an API call did, the market's invariants still hold afterwards, and every audit
    chain is intact."""
    yield
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        assert [str(found) for found in reconcile()] == []
        assert [str(found) for found in audit_verify().breaks] == []


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """client_for(user): an API client that sends that user's token."""

    def make(user: User) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make
