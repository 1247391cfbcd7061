"""Audit events: what happened, who did it, to what. Written inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from market.models import AuditEvent


def audit_event(
    *,
    action: str,
    actor_id: int | None = None,
    instrument_id: int | None = None,
    order_id: int | None = None,
    **data: Any,
) -> AuditEvent:
    """An unsaved event; the caller saves it, or bulk-creates many with `audit_write`."""
    return AuditEvent(
        action=action,
        actor_id=actor_id,
        instrument_id=instrument_id,
        order_id=order_id,
        data={key: _jsonable(value) for key, value in data.items()},
    )


def audit_write(events: list[AuditEvent]) -> None:
    if events:
        AuditEvent.objects.bulk_create(events)


def audit_log(**kwargs: Any) -> AuditEvent:
    event = audit_event(**kwargs)
    audit_write([event])
    return event


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    # Decimals, dates: their exact text.
    return str(value)
