"""What every fault case asserts at its end, against the stored rows: the books reconcile, the
audit trail verifies, and no accepted order is lost (each exists, in one consistent state)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Sum

from market.models import OPEN_STATUSES, Order, OrderStatus, OrderType, TimeInForce, Trade
from market.services.audit import audit_verify
from market.services.reconcile import reconcile

# The answers a random stream of orders and cancels may get; any other error is a bug.
EXPECTED_REJECTIONS = {
    "insufficient_cash",
    "insufficient_shares",
    "self_trade",
    "order_not_open",
    "too_many_open_orders",
}


def books_problems() -> list[str]:
    """Every broken invariant of the market and every break of an audit chain (empty when the
    books agree)."""
    return [str(found) for found in reconcile()] + [str(found) for found in audit_verify().breaks]


def lost_orders(accepted: Iterable[int]) -> list[str]:
    """The accepted orders that are missing or whose stored state is not a consistent one."""
    wanted = set(accepted)
    orders = {order.pk: order for order in Order.objects.filter(pk__in=wanted)}
    traded: dict[int, int] = {}
    for side in ("buy_order", "sell_order"):
        for order_id, quantity in (
            Trade.objects.filter(**{f"{side}__in": wanted})
            .order_by()
            .values(side)
            .annotate(total=Sum("quantity"))
            .values_list(side, "total")
        ):
            traded[order_id] = traded.get(order_id, 0) + quantity
    lost = [f"order {pk} was accepted but is not stored" for pk in sorted(wanted - set(orders))]
    for pk, order in sorted(orders.items()):
        filled, quantity = order.filled_quantity, order.quantity
        immediate = order.type == OrderType.MARKET or order.time_in_force == TimeInForce.IOC
        if traded.get(pk, 0) != filled:
            lost.append(f"order {pk}: filled {filled} but traded {traded.get(pk, 0)}")
        elif order.status == OrderStatus.FILLED and filled != quantity:
            lost.append(f"order {pk}: filled with {filled} of {quantity}")
        elif order.status in OPEN_STATUSES and (filled >= quantity or immediate):
            lost.append(f"order {pk}: {order.status} with {filled} of {quantity} ({order.type})")
        elif (order.status == OrderStatus.OPEN) != (filled == 0) and order.is_open:
            lost.append(f"order {pk}: {order.status} with {filled} filled")
        elif order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED) and filled >= quantity:
            lost.append(f"order {pk}: {order.status} though filled in full")
        elif order.status == OrderStatus.REJECTED:
            lost.append(f"order {pk}: accepted, stored as rejected")
    return lost
