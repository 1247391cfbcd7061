"""`bulk_insert_rows` and `bulk_update_values`: many rows per statement (COPY on PostgreSQL),
with the database's errors raised as Django's, as every other query raises them."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from market.models import MarketEvent
from market.services.bulk import bulk_insert_rows, bulk_update_values

pytestmark = pytest.mark.django_db

FIELDS = ["stream", "type", "data", "created_at"]


def test_rows_go_in_and_come_back_as_written():
    now = timezone.now()
    rows = [(f"user.{n}", "order", {"n": n, "price": "100.10"}, now) for n in range(1200)]

    bulk_insert_rows(MarketEvent, FIELDS, rows)

    stored = list(MarketEvent.objects.order_by("id").values_list(*FIELDS))
    assert stored == rows
    ids = list(MarketEvent.objects.order_by("id").values_list("id", flat=True))
    bulk_update_values(MarketEvent, ["seq", "published_at"], [(id_, 7, now) for id_ in ids[:3]])
    assert list(MarketEvent.objects.filter(seq=7).values_list("id", flat=True)) == ids[:3]


def test_a_database_error_is_django_s():
    # On PostgreSQL the rows go through the driver's COPY; a lost server must still reach the
    # API as Django's OperationalError (503), so every driver error is wrapped like this one.
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert_rows(MarketEvent, FIELDS, [(None, "order", {}, timezone.now())])
