"""Replaying the stored audit log: the market's commands again, in order, at their instants.

The audit trail records every command that changed the market or was refused by it: cash
movements, listings, orders placed, cancelled or rejected, auctions and the operators' actions.
`replay_log` runs those commands again through the same service functions, each with the
clock pinned to the instant its event was stored, so on a database holding the same users and
vehicles (and nothing of the market) it rebuilds the same orders, trades, balances and audit
chains, hash for hash (tests/market/test_replay.py).

A refused command (`order.rejected`, `order.cancel_refused`) is replayed by submitting it again:
it must be refused again, with the same code. The auction an operator's open, close or resume
runs is not replayed on its own: replaying the operator's action runs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import time_machine

from config.errors import DomainError
from market.models import AuditEvent, Instrument
from market.services import control
from market.services.auctions import auction_run
from market.services.ledger import cash_adjust, cash_deposit, cash_withdraw
from market.services.listings import instrument_list
from market.services.orders import order_cancel, order_place
from vehicles.models import Vehicle

OPERATOR_AUCTIONS = {
    "market.open": "auction.opening",
    "market.close": "auction.closing",
    "market.resume": "auction.reopening",
}


class ReplayDiverged(AssertionError):
    """A replayed command did not end as its event says it did."""


@dataclass(frozen=True)
class LoggedEvent:
    """What the replay needs of a stored event."""

    pk: int
    action: str
    actor_id: int | None
    instrument_id: int | None
    order_id: int | None
    data: dict[str, Any]
    created_at: datetime


def stored_log() -> list[LoggedEvent]:
    """Every stored audit event, in the order it was written."""
    return [
        LoggedEvent(**row)
        for row in AuditEvent.objects.order_by("pk").values(
            "pk", "action", "actor_id", "instrument_id", "order_id", "data", "created_at"
        )
    ]


def replay_log(events: Iterable[LoggedEvent]) -> int:
    """Run the commands of `events` again, each at its own instant; returns how many ran.

    Needs the users (with their cash accounts) and the vehicles; everything else comes from
    the log. Raises ReplayDiverged when a command ends otherwise than it did."""
    replayed = 0
    # An operator's open, close or resume runs its auction itself: that auction's event, the
    # instrument's next one, is not replayed a second time.
    runs_auction: dict[int | None, str] = {}
    for event in events:
        if runs_auction.pop(event.instrument_id, None) == event.action:
            continue
        if event.action in OPERATOR_AUCTIONS:
            runs_auction[event.instrument_id] = OPERATOR_AUCTIONS[event.action]
        with time_machine.travel(event.created_at, tick=False):
            _replay_one(event)
        replayed += 1
    return replayed


def _place(event: LoggedEvent) -> Any:
    """The order command an `order.placed` or `order.rejected` event records, placed again."""
    data = event.data
    return order_place(
        user_id=_required(event.actor_id),
        symbol=_symbol(event),
        side=data["side"],
        type=data["type"],
        quantity=data["quantity"],
        price=data["price"],
        time_in_force=data["time_in_force"],
        client_order_id=data.get("client_order_id"),
    )


def _replay_one(event: LoggedEvent) -> None:
    data = event.data
    action = event.action
    if action.startswith("cash."):
        _cash(action.removeprefix("cash."), event)
    elif action == "instrument.listed":
        _list(event)
    elif action == "order.placed":
        order = _place(event)
        _expect(event, order.pk == event.order_id, f"order {order.pk}, logged {event.order_id}")
    elif action == "order.cancelled":
        owner = data["owner_id"]
        order = order_cancel(
            user_id=owner,
            order_id=_required(event.order_id),
            actor_id=None if event.actor_id == owner else event.actor_id,
        )
        _expect(event, order.pk == event.order_id, f"cancelled {order.pk}")
    elif action == "order.rejected":
        _refused(event, lambda: _place(event))
    elif action == "order.cancel_refused":
        _refused(
            event,
            lambda: order_cancel(
                user_id=_required(event.actor_id),
                order_id=data["cancel_order_id"],
                actor_id=data.get("cancel_actor_id"),
            ),
        )
    elif action.startswith("auction."):
        auction_run(
            instrument_id=_required(event.instrument_id),
            trading_date=date.fromisoformat(data["trading_date"]),
            kind=action.removeprefix("auction."),
            actor_id=event.actor_id,
        )
    elif action.startswith("market."):
        control.market_control(
            action=action.removeprefix("market."), symbol=_symbol(event), actor_id=event.actor_id
        )
    else:
        raise ReplayDiverged(f"event {event.pk}: no replay for {action!r}")


def _cash(kind: str, event: LoggedEvent) -> None:
    data = event.data
    user_id, amount, memo = data["user_id"], data["amount"], data["memo"]
    if kind == "deposit":
        cash_deposit(user_id=user_id, amount=amount, memo=memo, actor_id=event.actor_id)
    elif kind == "withdrawal":
        cash_withdraw(
            user_id=user_id, amount=amount.removeprefix("-"), memo=memo, actor_id=event.actor_id
        )
    elif kind == "adjustment":
        cash_adjust(user_id=user_id, amount=amount, reason=memo, actor_id=event.actor_id)
    else:
        raise ReplayDiverged(f"event {event.pk}: no replay for cash.{kind}")


def _list(event: LoggedEvent) -> None:
    """A listing names no vehicle: it is the owner's first vehicle not listed yet."""
    owner = _required(event.actor_id)
    vehicle = Vehicle.objects.filter(owner_id=owner, instrument__isnull=True).order_by("pk").first()
    _expect(event, vehicle is not None, f"user {owner} has no vehicle left to list")
    assert vehicle is not None
    data = event.data
    instrument = instrument_list(
        user_id=owner,
        vehicle=vehicle,
        symbol=data["symbol"],
        total_shares=data["total_shares"],
        listing_price=data["listing_price"],
    )
    _expect(event, instrument.pk == event.instrument_id, f"instrument {instrument.pk}")


def _refused(event: LoggedEvent, command: Any) -> None:
    try:
        command()
    except DomainError as error:
        _expect(event, error.code == event.data["code"], f"refused with {error.code}")
        return
    raise ReplayDiverged(f"event {event.pk}: {event.action} was accepted on replay")


def _symbol(event: LoggedEvent) -> str:
    return Instrument.objects.values_list("symbol", flat=True).get(
        pk=_required(event.instrument_id)
    )


def _required(value: int | None) -> int:
    assert value is not None
    return value


def _expect(event: LoggedEvent, holds: bool, what: str) -> None:
    if not holds:
        raise ReplayDiverged(f"event {event.pk} ({event.action}): {what}")
