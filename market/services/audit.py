"""Audit events: what happened, who did it, to what. Written inside the caller's transaction.

The trail is tamper-evident. Events form chains: one per instrument (`instrument:<pk>`), whose
events are written under the instrument's lock anyway, and one (`market`) for the events of no
instrument, so the market is never serialized on one audit lock. Each event stores its chain's
sequence number, the hash of the event before it and its own hash: SHA-256 over a canonical
serialization of what it stores. `audit_verify` (`manage.py verify_audit`) walks every chain and
names the first broken link: an edited event, a missing one, a chain cut short.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from market import locks
from market.models import AUDIT_GENESIS_HASH, AuditChain, AuditEvent
from market.services.bulk import bulk_update_rows

MARKET_CHAIN = "market"
# What an event's hash covers, besides its chain position: every column it stores but its id.
HASHED_FIELDS = (
    "chain",
    "seq",
    "prev_hash",
    "action",
    "actor_id",
    "instrument_id",
    "order_id",
    "data",
    "created_at",
)
VERIFY_CHUNK_SIZE = 2000


def audit_event(
    *,
    action: str,
    actor_id: int | None = None,
    instrument_id: int | None = None,
    order_id: int | None = None,
    **data: Any,
) -> AuditEvent:
    """An unsaved event; the caller writes it, or many at once, with `audit_write`."""
    return AuditEvent(
        action=action,
        actor_id=actor_id,
        instrument_id=instrument_id,
        order_id=order_id,
        data={key: _jsonable(value) for key, value in data.items()},
    )


def audit_write(events: list[AuditEvent]) -> None:
    """Append `events` to their chains, in order, and store them in bulk. Runs in the caller's
    transaction (or one of its own). Locks: the heads of the events' chains, in name order; the
    last lock a transaction takes (market/locks.py)."""
    if not events:
        return
    by_chain: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in events:
        event.chain = audit_chain_name(event.instrument_id)
        by_chain[event.chain].append(event)
    with transaction.atomic(savepoint=False):
        heads = locks.audit_chains_for_update(by_chain)
        for name, chained in by_chain.items():
            head = heads[name]
            for event in chained:
                head.last_seq += 1
                event.seq = head.last_seq
                event.prev_hash = head.last_hash
                event.hash = audit_hash(_hashed_values(event))
                head.last_hash = event.hash
        AuditEvent.objects.bulk_create(events)
        bulk_update_rows([heads[name] for name in sorted(by_chain)], ["last_seq", "last_hash"])


def audit_log(**kwargs: Any) -> AuditEvent:
    event = audit_event(**kwargs)
    audit_write([event])
    return event


def audit_chain_name(instrument_id: int | None) -> str:
    return MARKET_CHAIN if instrument_id is None else f"instrument:{instrument_id}"


def audit_hash(values: Mapping[str, Any]) -> str:
    """SHA-256 of an event's `HASHED_FIELDS`: sorted-key compact JSON, ASCII only, the time in
    UTC to the microsecond, so the same stored row always gives the same text."""
    created_at: datetime = values["created_at"]
    canonical = {name: values[name] for name in HASHED_FIELDS}
    canonical["created_at"] = created_at.astimezone(UTC).isoformat(timespec="microseconds")
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _hashed_values(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in HASHED_FIELDS}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    # Decimals, dates: their exact text.
    return str(value)


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditBreak:
    """The first broken link of a chain: the event where it breaks, and what was expected
    there against what is stored."""

    chain: str
    event_id: int | None
    seq: int | None
    problem: str
    expected: str
    stored: str

    def __str__(self) -> str:
        where = f"event {self.event_id} (seq {self.seq})" if self.event_id else "head"
        return (
            f"{self.chain}: {where}: {self.problem}: expected {self.expected}, stored {self.stored}"
        )


@dataclass(frozen=True)
class ChainCheck:
    name: str
    events: int
    last_seq: int
    last_hash: str


@dataclass(frozen=True)
class AuditVerification:
    chains: list[ChainCheck] = field(default_factory=list)
    breaks: list[AuditBreak] = field(default_factory=list)

    @property
    def is_intact(self) -> bool:
        return not self.breaks

    @property
    def events(self) -> int:
        return sum(chain.events for chain in self.chains)

    def summary(self) -> str:
        if self.is_intact:
            return f"{len(self.chains)} chains, {self.events} events: every link holds"
        return f"{len(self.chains)} chains, {self.events} events checked: {len(self.breaks)} broken"


def audit_verify() -> AuditVerification:
    """Walk every audit chain in sequence order; per chain, report the first broken link.

    Read-only and safe while the market trades: a chain is walked up to the head read at the
    start (appends commit their events with the new head), one chunked query per chain."""
    # Chains named by events first, heads second: a head is committed with its events.
    named = set(AuditEvent.objects.order_by().values_list("chain", flat=True).distinct())
    heads = {head.name: head for head in AuditChain.objects.all()}
    checks: list[ChainCheck] = []
    breaks: list[AuditBreak] = []
    for name in sorted(named - set(heads)):
        first = AuditEvent.objects.filter(chain=name).order_by("pk").values("pk", "seq").first()
        assert first is not None
        breaks.append(
            AuditBreak(
                chain=name or '""',
                event_id=first["pk"],
                seq=first["seq"],
                problem="event outside every chain",
                expected="a chain with a head",
                stored=f"chain {name!r}",
            )
        )
    for name in sorted(heads):
        check, found = _walk(heads[name])
        checks.append(check)
        if found is not None:
            breaks.append(found)
    return AuditVerification(chains=checks, breaks=breaks)


def _walk(head: AuditChain) -> tuple[ChainCheck, AuditBreak | None]:
    name = head.name
    rows = (
        AuditEvent.objects.filter(chain=name, seq__lte=head.last_seq)
        .order_by("seq")
        .values("pk", "hash", *HASHED_FIELDS)
        .iterator(chunk_size=VERIFY_CHUNK_SIZE)
    )
    walked = 0
    previous_hash = AUDIT_GENESIS_HASH
    last_pk: int | None = None
    for row in rows:
        found = _check_link(name, row, walked + 1, previous_hash)
        if found is not None:
            return ChainCheck(name, walked, head.last_seq, head.last_hash), found
        walked += 1
        previous_hash = row["hash"]
        last_pk = row["pk"]
    check = ChainCheck(name, walked, head.last_seq, head.last_hash)
    if walked != head.last_seq:
        return check, AuditBreak(
            chain=name,
            event_id=None,
            seq=None,
            problem="events missing at the end of the chain",
            expected=f"seq {head.last_seq}",
            stored=f"seq {walked}" + (f" (event {last_pk})" if last_pk else ""),
        )
    if previous_hash != head.last_hash:
        return check, AuditBreak(
            chain=name,
            event_id=last_pk,
            seq=walked,
            problem="last event differs from the chain's head",
            expected=head.last_hash,
            stored=previous_hash,
        )
    return check, None


def _check_link(name: str, row: dict[str, Any], seq: int, previous_hash: str) -> AuditBreak | None:
    def broken(problem: str, expected: str, stored: str) -> AuditBreak:
        return AuditBreak(name, row["pk"], row["seq"], problem, expected, stored)

    if row["seq"] != seq:
        return broken("events missing before this one", f"seq {seq}", f"seq {row['seq']}")
    if row["prev_hash"] != previous_hash:
        return broken("link to the previous event broken", previous_hash, row["prev_hash"])
    owner = audit_chain_name(row["instrument_id"])
    if owner != name:
        return broken("event moved between chains", owner, name)
    recomputed = audit_hash(row)
    if recomputed != row["hash"]:
        return broken("content changed", recomputed, row["hash"])
    return None
