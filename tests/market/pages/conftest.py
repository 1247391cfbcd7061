"""Page fixtures: a market in continuous trading with a resting book, and signed-in clients."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from accounts.models import User
from market.models import Instrument
from market.services.orders import order_place


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def place() -> Callable[..., object]:
    def go(user: User, instrument: Instrument, side: str, quantity: int, price: str | None = None):
        return order_place(
            user_id=user.pk,
            symbol=instrument.symbol,
            side=side,
            type="limit" if price is not None else "market",
            quantity=quantity,
            price=price,
        )

    return go


@pytest.fixture
def signed_in() -> Callable[[User], Client]:
    def go(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return go
