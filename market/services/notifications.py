"""What users are told: order fills, cancels and expiries, auction results, their listings.

Notifications are written in the transaction of the change they describe (called from
`market.outbox`), then pushed on the user's private stream after commit. Read with
`notifications_for`, listed by `GET /api/v1/notifications/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet

from market.models import (
    AuctionRecord,
    Instrument,
    Notification,
    Order,
    OrderStatus,
    OrderType,
    Side,
)
from market.services.bulk import bulk_create_objects

ORDER_FILLED = "order_filled"
ORDER_PARTIALLY_FILLED = "order_partially_filled"
ORDER_CANCELLED = "order_cancelled"
ORDER_EXPIRED = "order_expired"
AUCTION_RESULT = "auction_result"
LISTING_OPENED = "listing_opened"

_ORDER_KINDS = {
    OrderStatus.FILLED: ORDER_FILLED,
    OrderStatus.PARTIALLY_FILLED: ORDER_PARTIALLY_FILLED,
    OrderStatus.CANCELLED: ORDER_CANCELLED,
    OrderStatus.EXPIRED: ORDER_EXPIRED,
}
_AUCTION_NAMES = {"opening": "Opening", "closing": "Closing", "reopening": "Re-opening"}


def notifications_write(notifications: list[Notification]) -> list[Notification]:
    """Store notifications in the caller's transaction (their ids are set on return)."""
    if notifications:
        bulk_create_objects(notifications)
    return notifications


def notifications_for(*, user_id: int, unread: bool = False) -> QuerySet[Notification]:
    """A user's notifications, newest first."""
    notifications = Notification.objects.filter(user_id=user_id)
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-id")


def order_notification(order: Order, *, symbol: str, traded: bool) -> Notification | None:
    """The notification an order's change in this step deserves, if any: it filled (wholly or
    in part: `traded`, it had fills in this step), or it ended cancelled or expired."""
    kind = _ORDER_KINDS.get(OrderStatus(order.status))
    if kind is None or (kind == ORDER_PARTIALLY_FILLED and not traded):
        return None
    verb = "Bought" if order.side == Side.BUY else "Sold"
    what = _order_words(order, symbol)
    average = order.average_fill_price
    if kind == ORDER_FILLED:
        title = f"Order filled: {verb.lower()} {order.quantity:,} {symbol}"
        text = f"{verb} {order.quantity:,} {symbol} at an average ${_price(average)}."
    elif kind == ORDER_PARTIALLY_FILLED:
        title = f"Order partly filled: {symbol}"
        text = (
            f"{verb} {order.filled_quantity:,} of {order.quantity:,} {symbol} at an average "
            f"${_price(average)}; {order.remaining_quantity:,} still open."
        )
    else:
        ended = "cancelled" if kind == ORDER_CANCELLED else "expired"
        title = f"Order {ended}: {symbol}"
        filled = (
            f" after {order.filled_quantity:,} filled at an average ${_price(average)}"
            if order.filled_quantity
            else ""
        )
        text = f"Your {what} was {ended}{filled}."
    return Notification(
        user_id=order.user_id,
        kind=kind,
        title=title[:120],
        text=text[:500],
        data={
            "order_id": order.pk,
            "symbol": symbol,
            "side": order.side,
            "status": order.status,
            "quantity": order.quantity,
            "filled_quantity": order.filled_quantity,
            "average_fill_price": None if average is None else str(average),
        },
    )


def auction_notifications(
    record: AuctionRecord, *, symbol: str, user_ids: Iterable[int]
) -> list[Notification]:
    """The auction's result, for everyone who holds the instrument or had orders in it."""
    name = _AUCTION_NAMES.get(record.kind, record.kind.title())
    if record.price is None:
        title = f"{name} auction {symbol}: no trade"
        text = f"The {name.lower()} auction of {symbol} did not cross; the orders stay in the book."
    else:
        title = f"{name} auction {symbol}: {record.volume:,} at ${record.price}"
        text = (
            f"The {name.lower()} auction of {symbol} traded {record.volume:,} shares at "
            f"${record.price}."
        )
    data = {
        "auction_id": record.pk,
        "symbol": symbol,
        "kind": record.kind,
        "trading_date": record.trading_date.isoformat(),
        "price": None if record.price is None else str(record.price),
        "volume": record.volume,
        "surplus": record.surplus,
    }
    return [
        Notification(user_id=user_id, kind=AUCTION_RESULT, title=title, text=text, data=data)
        for user_id in sorted(set(user_ids))
    ]


def listing_notification(instrument: Instrument, *, owner_id: int) -> Notification:
    first_day: date = instrument.first_trading_date
    return Notification(
        user_id=owner_id,
        kind=LISTING_OPENED,
        title=f"Listed: {instrument.symbol}",
        text=(
            f"{instrument.symbol} is listed with {instrument.total_shares:,} shares at "
            f"${instrument.listing_price}, all yours. Orders collect now; it first trades in the "
            f"opening auction of {first_day.isoformat()}."
        ),
        data={
            "symbol": instrument.symbol,
            "total_shares": instrument.total_shares,
            "listing_price": str(instrument.listing_price),
            "first_trading_date": first_day.isoformat(),
        },
    )


def _order_words(order: Order, symbol: str) -> str:
    price = "at market" if order.type == OrderType.MARKET else f"at ${order.price}"
    return f"{order.side} order for {order.quantity:,} {symbol} {price}"


def _price(value: Decimal | None) -> str:
    if value is None:
        return "-"
    # Averages carry 4 places; show cents when the average is a whole cent.
    return (
        str(value.quantize(Decimal("0.01")))
        if value == value.quantize(Decimal("0.01"))
        else str(value)
    )
