"""The outbox stores each event's data as the standard library's JSON would (it is encoded
with orjson for speed): the relay sends what the database holds."""

from __future__ import annotations

import json

import pytest

from market import outbox
from market.models import MarketEvent

pytestmark = pytest.mark.django_db


def test_event_data_is_stored_as_json_would_encode_it():
    data = {"symbol": "CAR1", "title": "Bought 1 CAR1 at 99.50 €", 7: "a number key", "n": None}

    outbox.record([outbox.event("user.1", "notification", data)])

    assert MarketEvent.objects.get().data == json.loads(json.dumps(data))
