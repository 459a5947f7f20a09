"""Appending to and verifying the custody chain.

append() runs inside the caller's transaction and takes a transaction-scoped advisory lock,
so concurrent writers extend the chain one at a time and seq stays gap-free.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, text

from fieldapp.custody import chain
from fieldapp.custody.models import ACTIONS, CustodyEvent
from fieldapp.extensions import db

# Arbitrary constant naming "the custody chain" among advisory locks.
_CHAIN_LOCK = 0x6669656C64  # "field"


def append(action: str, subject_type: str, subject_id: uuid.UUID, *, actor_id=None,
           details: dict | None = None, occurred_at: datetime | None = None) -> CustodyEvent:
    """Add one event at the head of the chain (flushed, not committed)."""
    return append_many([Entry(action, subject_type, subject_id, actor_id, details or {},
                              occurred_at)])[0]


@dataclass(frozen=True)
class Entry:
    """An event to append, before it has a place in the chain."""

    action: str
    subject_type: str
    subject_id: uuid.UUID
    actor_id: uuid.UUID | None = None
    details: dict = field(default_factory=dict)
    occurred_at: datetime | None = None


def append_many(entries: list[Entry], flush: bool = True) -> list[CustodyEvent]:
    """Append events in order, taking the chain's lock once.

    The lock is held until the transaction ends, so callers do their other work first and
    append last, just before they commit. With flush=False the events are only added to
    the session, for a caller that writes them together with rows naming their hashes.
    """
    for entry in entries:
        if entry.action not in ACTIONS:
            raise ValueError(f"unknown custody action {entry.action!r}")
    db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    head = db.session.execute(
        select(CustodyEvent.seq, CustodyEvent.hash).order_by(CustodyEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head.seq, head.hash) if head else (0, chain.GENESIS_HASH)
    events = []
    for entry in entries:
        seq += 1
        event = CustodyEvent(
            seq=seq, id=uuid.uuid4(), occurred_at=entry.occurred_at or datetime.now(UTC),
            actor_id=entry.actor_id, action=entry.action, subject_type=entry.subject_type,
            subject_id=entry.subject_id, details=entry.details, prev_hash=prev_hash, hash="")
        event.hash = chain.link_hash(prev_hash, event.as_chain_dict())
        prev_hash = event.hash
        events.append(event)
    db.session.add_all(events)
    if flush:
        db.session.flush()
    return events


def head() -> CustodyEvent | None:
    return db.session.scalar(select(CustodyEvent).order_by(CustodyEvent.seq.desc()).limit(1))


def events_in_order(batch: int = 1000) -> Iterator[dict]:
    """Every event as a chain dict, streamed in seq order."""
    stmt = select(CustodyEvent).order_by(CustodyEvent.seq).execution_options(yield_per=batch)
    for event in db.session.scalars(stmt):
        yield event.as_chain_dict()


def events_for(subject_ids) -> list[CustodyEvent]:
    return list(db.session.scalars(
        select(CustodyEvent).where(CustodyEvent.subject_id.in_(list(subject_ids)))
        .order_by(CustodyEvent.seq)
    ))


def first_break() -> chain.Break | None:
    return chain.first_break(events_in_order())


AUDIT_SUBJECT = uuid.UUID(int=0)


def altered_originals(store, sha256s) -> Iterator[str]:
    """Describe every stored original that is missing or no longer matches its hash."""
    from fieldapp.storage.blobs import sha256_of

    for sha256 in sha256s:
        path = store.path_for(sha256)
        if not path.exists():
            yield f"original {sha256} is missing from storage"
        elif sha256_of(path) != sha256:
            yield f"original {sha256} was altered: its bytes no longer hash to its name"


def audit(store, actor_id=None) -> list[str]:
    """Walk the chain and re-hash every original; record the audit; return the problems."""
    from fieldapp.reports.models import Photo

    problems = []
    broken = first_break()
    if broken:
        problems.append(str(broken))
    hashes = db.session.scalars(select(Photo.sha256).distinct().order_by(Photo.sha256)).all()
    problems.extend(altered_originals(store, hashes))
    append("audited", "chain", AUDIT_SUBJECT, actor_id=actor_id,
           details={"originals_checked": len(hashes), "problems": len(problems)})
    db.session.commit()
    return problems
