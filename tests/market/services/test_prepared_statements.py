"""On PostgreSQL a connection prepares a statement it runs often (config/settings/base.py). A
prepared statement whose result type changes fails ("cached plan must not change result type")
until its connection is gone, so the raw statements name their columns: a migration that adds a
column while the servers run must not break the token read or the book step's read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, connections
from rest_framework.authtoken.models import Token

from accounts.authentication import user_for_token
from market.models import Order, Side
from market.services import orders
from market.services.orders import order_place

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def prepared_statements_like(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{fragment}%"],
        )
        (count,) = cursor.fetchone()
    return int(count)


def run_until_prepared(read, fragment: str) -> None:
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    if threshold is None:
        pytest.skip("DATABASE_PREPARE_THRESHOLD=0: nothing is prepared")
    for _ in range(threshold + 1):
        read()
    assert prepared_statements_like(fragment) == 1, "the statement was prepared"


def add_column_meanwhile(table: str) -> None:
    """What a migration run from another process does to `table`."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{table}" ADD COLUMN added_meanwhile integer')
    finally:
        other.close()


def drop_added_column(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{table}" DROP COLUMN IF EXISTS added_meanwhile')


def test_a_prepared_token_read_still_reads_after_a_column_is_added(make_trader):
    user = make_trader(cash="0")
    token = Token.objects.create(user=user)
    run_until_prepared(lambda: user_for_token(token.key), "token_created")
    table = user._meta.db_table
    add_column_meanwhile(table)
    try:
        found = user_for_token(token.key)
    finally:
        drop_added_column(table)

    assert found is not None
    assert found.pk == user.pk


def test_a_prepared_book_read_still_reads_after_a_column_is_added(
    continuous_instrument, make_trader
):
    instrument = continuous_instrument()
    buyer = make_trader(cash="1000.00")
    bid = order_place(
        user_id=buyer.pk, symbol=instrument.symbol, side="buy", quantity=1, price="99.00"
    )
    reaches = [orders.Reach(instrument.pk, Side.BUY, Decimal("98.00"), 5, frozenset())]

    def read() -> list[int]:
        return [order.pk for order in orders.crossable_resting_orders(reaches)]

    run_until_prepared(read, "CROSS JOIN LATERAL")
    add_column_meanwhile(Order._meta.db_table)
    try:
        found = read()
    finally:
        drop_added_column(Order._meta.db_table)

    assert found == [bid.pk]
