"""`bulk_insert_rows` and `bulk_update_values`: many rows per statement (COPY on PostgreSQL),
with the database's errors raised as Django's, as every other query raises them."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from django.utils import timezone

from market.models import CashAccount, LedgerEntry, MarketEvent, Notification
from market.services.bulk import (
    _Preparer,
    bulk_create_objects,
    bulk_insert_rows,
    bulk_update_values,
)
from tests.factories import UserFactory

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


def test_values_django_would_hand_back_as_they_are_skip_its_preparation(monkeypatch):
    names = ["transaction", "account", "amount", "description", "created_at"]
    fields = [LedgerEntry._meta.get_field(name) for name in names]
    now = timezone.now()
    rows = [
        (1, 2, Decimal("-10.25"), "Bought 3", now),
        (3, "4", Decimal("0.00"), "Sold 3", now),  # an id given as text is converted
    ]
    expected = [
        [
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, row, strict=True)
        ]
        for row in rows
    ]
    prepared_fields: Counter[str] = Counter()
    prepare = Field.get_db_prep_save

    def counting(field, value, connection):
        prepared_fields[field.name] += 1
        return prepare(field, value, connection)

    monkeypatch.setattr(Field, "get_db_prep_save", counting)
    preparer = _Preparer(fields, connection)

    assert [preparer.row(row) for row in rows] == expected
    if connection.vendor == "postgresql":
        # The foreign key given as text is prepared by its target field, the primary key.
        assert prepared_fields == {"created_at": 1, "id": 1}
    else:
        assert set(prepared_fields) >= {"amount", "description", "created_at"}
    with pytest.raises(ValidationError):
        preparer.row((1, 2, Decimal("NaN"), "never money", now))


def test_json_given_as_text_is_stored_as_json():
    now = timezone.now()

    bulk_insert_rows(
        MarketEvent,
        FIELDS,
        [("user.1", "order", '{"n":1,"price":"1.10"}', now)],
        json_text={"data"},
    )

    assert MarketEvent.objects.get().data == {"n": 1, "price": "1.10"}


def test_a_database_error_is_django_s():
    # On PostgreSQL the rows go through the driver's COPY; a lost server must still reach the
    # API as Django's OperationalError (503), so every driver error is wrapped like this one.
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert_rows(MarketEvent, FIELDS, [(None, "order", {}, timezone.now())])


def test_an_update_writes_each_row_its_own_values_nulls_and_shared_ones_included():
    now = timezone.now()
    bulk_insert_rows(MarketEvent, FIELDS, [(f"user.{n}", "order", {}, now) for n in range(1200)])
    ids = list(MarketEvent.objects.order_by("id").values_list("id", flat=True))

    bulk_update_values(
        MarketEvent, ["seq", "published_at"], [(id_, n, now) for n, id_ in enumerate(ids)]
    )
    bulk_update_values(MarketEvent, ["published_at"], [(id_, None) for id_ in ids[:2]])

    stored = list(MarketEvent.objects.order_by("id").values_list("seq", "published_at"))
    assert stored == [(0, None), (1, None), *[(n, now) for n in range(2, 1200)]]


def test_an_update_of_numbers_keeps_every_value_and_null():
    # Numbers travel as the array's text on PostgreSQL; values every row shares, as one value.
    users = UserFactory.create_batch(4)
    accounts = [CashAccount.objects.create(kind="user", user=user) for user in users]
    balances = [Decimal("0.10"), Decimal("12345.67"), Decimal("1E+2"), Decimal("99999999.99")]

    bulk_update_values(
        CashAccount,
        ["balance_amount", "reserved_amount"],
        [(a.pk, b, Decimal("0.05")) for a, b in zip(accounts, balances, strict=True)],
    )
    now = timezone.now()
    bulk_insert_rows(MarketEvent, FIELDS, [(f"user.{n}", "order", {}, now) for n in range(4)])
    ids = list(MarketEvent.objects.order_by("id").values_list("id", flat=True))
    bulk_update_values(
        MarketEvent, ["seq", "published_at"], [(ids[0], None, now), (ids[1], 2**40, now)]
    )

    stored = CashAccount.objects.filter(pk__in=[a.pk for a in accounts]).order_by("pk")
    assert [(a.balance_amount, a.reserved_amount) for a in stored] == [
        (balance, Decimal("0.05")) for balance in balances
    ]
    assert list(MarketEvent.objects.order_by("id").values_list("seq", "published_at")) == [
        (None, now),
        (2**40, now),
        (None, None),
        (None, None),
    ]


@pytest.mark.parametrize("count", [3, 150])  # INSERT ... RETURNING; ids first, then COPY
def test_created_objects_get_their_ids_in_order_and_are_stored_as_built(count):
    user = UserFactory()
    notes = [
        Notification(user=user, kind="order_filled", title=f"#{n}", data={"n": n})
        for n in range(count)
    ]

    bulk_create_objects(notes)

    ids = [note.pk for note in notes]
    assert None not in ids
    assert ids == sorted(ids)
    assert not any(note._state.adding for note in notes)
    stored = Notification.objects.filter(pk__in=ids).order_by("pk")
    assert [(n.user_id, n.title, n.data) for n in stored] == [
        (user.pk, f"#{n}", {"n": n}) for n in range(count)
    ]
    assert all(n.created_at is not None for n in stored)


def test_created_objects_take_the_ids_of_related_objects_saved_after_their_assignment():
    user = UserFactory.build()
    notes = [Notification(user=user, kind="order_filled", title=f"#{n}") for n in range(150)]
    user.save()

    bulk_create_objects(notes)

    assert set(Notification.objects.values_list("user_id", flat=True)) == {user.pk}
