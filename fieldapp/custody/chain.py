"""The custody hash chain, pure: canonical JSON, link hashes, verification.

Each event's hash is ``SHA-256(previous hash (hex) + canonical JSON of the event)``, where the
canonical JSON is the event's fields except ``prev_hash`` and ``hash``, keys sorted, no
insignificant white space, UTF-8. The first event's previous hash is 64 zeros. Anyone can
re-check a chain with these few lines; the dossier verifier carries a copy of them.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq", "id", "occurred_at", "actor_id", "action", "subject_type", "subject_id", "details",
)


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_time(moment: datetime) -> str:
    """The one textual form of an event time: UTC, microseconds, explicit offset."""
    if moment.tzinfo is None:
        raise ValueError("custody times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def hashed_body(event: dict) -> dict:
    return {name: event[name] for name in HASHED_FIELDS}


def link_hash(prev_hash: str, event: dict) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical_json(hashed_body(event))).hexdigest()


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"custody event #{self.seq}: {self.reason}"


def breaks(events: Iterable[dict], start_hash: str = GENESIS_HASH,
           start_seq: int = 1) -> Iterator[Break]:
    """Walk events in seq order and name every broken link, each event at most once.

    After a break the walk goes on from the event as stored (its seq, its hash), so each
    event is held to its own neighbour: one event altered in place is named alone, one
    rehashed is named at the next event, and a later alteration is never hidden behind an
    earlier one.
    """
    prev_hash, expected_seq = start_hash, start_seq
    for event in events:
        if event["seq"] != expected_seq:
            yield Break(event["seq"], f"expected event #{expected_seq} (missing or reordered)")
        elif event["prev_hash"] != prev_hash:
            yield Break(event["seq"], "prev_hash does not match the previous event's hash")
        elif link_hash(event["prev_hash"], event) != event["hash"]:
            yield Break(event["seq"], "hash does not match its content (event altered)")
        prev_hash, expected_seq = event["hash"], event["seq"] + 1


def first_break(events: Iterable[dict], start_hash: str = GENESIS_HASH,
                start_seq: int = 1) -> Break | None:
    """The first broken link, or None if the chain holds."""
    return next(breaks(events, start_hash, start_seq), None)
