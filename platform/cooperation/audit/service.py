"""Append to and verify the audit chain. Services call record(); they never commit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cooperation.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from cooperation.db import utcnow

# Keys that must never reach the audit log, whatever a caller passes in details.
_FORBIDDEN_DETAIL_KEYS = {"password", "token", "secret", "code", "otp", "key", "totp_secret"}


@dataclass(frozen=True)
class Actor:
    """Who did it and from where; built by the view layer from the request."""

    user_id: int | None
    label: str
    party_code: str
    ip_address: str

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(user_id=None, label=label, party_code="", ip_address="")


def canonical_details(details: dict[str, Any] | None) -> str:
    details = details or {}
    leaked = set(_secret_keys(details))
    if leaked:
        raise ValueError(f"audit details may not carry secrets: {sorted(leaked)}")
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _secret_keys(value: Any) -> Iterator[str]:
    """Forbidden keys at any depth: a nested form dump must not smuggle a password in."""
    if isinstance(value, dict):
        for k, v in value.items():
            if str(k).lower() in _FORBIDDEN_DETAIL_KEYS:
                yield str(k)
            yield from _secret_keys(v)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _secret_keys(item)


def compute_hash(event: AuditEvent) -> str:
    payload = {
        "seq": event.seq,
        "created_at": event.created_at.isoformat(timespec="microseconds"),
        "action": event.action,
        "outcome": event.outcome,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "party_code": event.party_code,
        "ip_address": event.ip_address,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def ensure_head(session: Session) -> None:
    if session.get(AuditHead, 1) is None:
        session.add(AuditHead(id=1, seq=0, tip_hash=GENESIS_HASH))
        session.flush()


def record(
    session: Session,
    action: str,
    actor: Actor,
    *,
    target_type: str = "",
    target_id: str | int = "",
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one entry in the caller's transaction: it commits or rolls back with the action."""
    # The UPDATE takes the lock first (row lock on PostgreSQL, write lock on SQLite), then we
    # read the tip we now own; see the module docstring of models. No read may come before it:
    # on SQLite a transaction that read first cannot take the write lock once another writer
    # committed ("database is locked"), whereas a first write waits for the lock.
    bump = update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
    if not session.execute(bump).rowcount:
        ensure_head(session)  # the very first entry
        session.execute(bump)
    seq, prev_hash = session.execute(
        select(AuditHead.seq, AuditHead.tip_hash).where(AuditHead.id == 1)
    ).one()
    created = now or utcnow()
    event = AuditEvent(
        seq=seq,
        created_at=created,
        action=action,
        outcome=outcome,
        actor_id=actor.user_id,
        actor_label=actor.label[:254],
        party_code=actor.party_code,
        ip_address=actor.ip_address[:64],
        target_type=target_type,
        target_id=str(target_id)[:64],
        details=canonical_details(details),
        prev_hash=prev_hash,
    )
    event.entry_hash = compute_hash(event)
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(tip_hash=event.entry_hash))
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem}"


def verify(session: Session, batch: int = 5000) -> list[ChainProblem]:
    """Walk the chain and name every modified, deleted or reordered entry."""
    problems: list[ChainProblem] = []
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for event in _iterate(session, batch):
        if event.seq != expected_seq:
            problems.append(ChainProblem(expected_seq, f"missing (next entry present is {event.seq})"))
            expected_seq = event.seq
        if event.prev_hash != expected_prev:
            problems.append(ChainProblem(event.seq, "does not follow the previous entry (deleted or reordered)"))
        if compute_hash(event) != event.entry_hash:
            problems.append(ChainProblem(event.seq, "content was modified after it was written"))
        expected_prev = event.entry_hash
        expected_seq += 1
    head = session.get(AuditHead, 1)
    if head is not None:
        last_seq = expected_seq - 1
        if head.seq != last_seq:
            problems.append(ChainProblem(head.seq, f"the head counts {head.seq} entries but {last_seq} remain (entries removed at the end)"))
        elif head.tip_hash != expected_prev:
            problems.append(ChainProblem(last_seq, "the head's hash does not match the last entry"))
    return problems


def _iterate(session: Session, batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
