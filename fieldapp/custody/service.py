"""Appending to and verifying the custody chain.

append() runs inside the caller's transaction and takes a transaction-scoped advisory lock,
so concurrent writers extend the chain one at a time and seq stays gap-free.
"""
from __future__ import annotations

import heapq
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, text

from fieldapp.custody import binding, chain
from fieldapp.custody.models import ACTIONS, CustodyEvent
from fieldapp.extensions import db
from fieldapp.geo.geometry import lon_lat

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
# Another advisory lock key: one audit at a time, so two never bind the same old row twice.
_AUDIT_LOCK = 0x6669656C65  # "fielde"
_PAGE = 500
# Problems kept in memory (every one is counted and passed to on_problem); the audit's
# event lists the first few.
_KEPT_PROBLEMS = 1000
_LISTED_PROBLEMS = 50


def row_sha256(kind: str, row) -> str:
    """The digest a new row's creating event carries as `row_sha256` (see custody.binding)."""
    values = {}
    if kind == "report":
        lon, lat = lon_lat(row.location)
        values.update(lon=lon, lat=lat, srid=row.location.srid)
    values.update({name: getattr(row, name) for name in binding.FIELDS[kind]
                   if name not in values})
    return binding.row_digest(kind, values)


@dataclass(frozen=True)
class _Bound:
    """Where one kind of evidence row lives, and which custody event records its creation."""

    kind: str
    table: str
    action: str
    subject_type: str
    # Over custody_events: the text of the created row's id in its creation event.
    row_id: str
    # Over custody_events e and the table t: the row an old creation event recorded.
    legacy_join: str
    # The row's column holding its creation event's hash, if it has one.
    link: str | None

    @property
    def columns(self) -> str:
        """SQL naming binding.FIELDS[kind]; a report's point is read as lon, lat, srid."""
        point = {"lon": "ST_X(t.location)", "lat": "ST_Y(t.location)",
                 "srid": "ST_SRID(t.location)"}
        return ", ".join(f"{point[name]} AS {name}" if name in point else f"t.{name}"
                         for name in binding.FIELDS[self.kind])


_BOUND = (
    _Bound("report", "reports", "received", "report", "subject_id::text",
           "t.id = e.subject_id", None),
    _Bound("photo", "photos", "received", "photo", "subject_id::text",
           "t.id = e.subject_id AND t.receipt_hash = e.hash", "receipt_hash"),
    # A review's event is about its photo; since rows are bound it names the review too.
    _Bound("review", "reviews", "reviewed", "photo", "details->>'review_id'",
           "t.photo_id = e.subject_id AND t.custody_hash = e.hash", "custody_hash"),
    _Bound("dossier", "dossiers", "exported", "dossier", "subject_id::text",
           "t.id = e.subject_id AND t.custody_hash = e.hash", "custody_hash"),
    _Bound("complaint", "complaints", "complaint_filed", "complaint", "subject_id::text",
           "t.id = e.subject_id AND t.custody_hash = e.hash", "custody_hash"),
    # An update's event is about its complaint and names the update.
    _Bound("complaint_update", "complaint_updates", "complaint_updated", "complaint",
           "details->>'update_id'",
           "t.complaint_id = e.subject_id AND t.custody_hash = e.hash", "custody_hash"),
)


def altered_originals(store, sha256s) -> Iterator[str]:
    """Describe every stored original that is missing or no longer matches its hash."""
    from fieldapp.storage.blobs import sha256_of

    for sha256 in sha256s:
        path = store.path_for(sha256)
        if not path.exists():
            yield f"original {sha256} is missing from storage"
        elif sha256_of(path) != sha256:
            yield f"original {sha256} was altered: its bytes no longer hash to its name"


@dataclass
class AuditResult:
    problems: list[str] = field(default_factory=list)  # the first _KEPT_PROBLEMS
    problem_count: int = 0
    rows_checked: dict[str, int] = field(default_factory=dict)
    rows_bound: int = 0
    originals_checked: int = 0
    anchors_checked: int = 0
    on_problem: Callable[[str], None] | None = None

    def add(self, problem: str) -> None:
        # A table emptied behind the app's back is a million problems: count them all,
        # keep only the first ones in memory.
        self.problem_count += 1
        if len(self.problems) < _KEPT_PROBLEMS:
            self.problems.append(problem)
        if self.on_problem is not None:
            self.on_problem(problem)

    def add_all(self, problems: Iterable[str]) -> None:
        for problem in problems:
            self.add(problem)


def audit(store, actor_id=None) -> list[str]:
    """Verify everything the chain vouches for, record the outcome, return the problems
    (the first thousand; an empty list when all is well).

    What `fieldapp custody verify` runs, and the scheduled audit (idempotent; no request
    needed, only an app context)."""
    return run_audit(store, actor_id).problems


def run_audit(store, actor_id=None, on_problem=None) -> AuditResult:
    """The audit, with its figures (see audit); on_problem is called with each problem as it
    is found.

    Binds, once, rows made before rows were bound (see bind_unbound); walks the chain's
    links; recomputes every evidence row's digest against the event that bound it; checks
    that every evidence item a dossier froze still stands; re-hashes every original. Safe
    while intake goes on: rows are read in streams, each check sees one snapshot, and the
    chain's lock is taken only for the appends (a few bound events at a time, the audit's
    own event at the end), never while originals are re-hashed.
    """
    with db.engine.connect() as lock:
        # Held by the session, across the audit's many short transactions.
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _AUDIT_LOCK})
        lock.commit()
        try:
            result = AuditResult(on_problem=on_problem)
            result.rows_bound = bind_unbound(actor_id)
            result.add_all(str(broken) for broken in chain.breaks(events_in_order()))
            for bound in _BOUND:
                result.rows_checked[bound.kind] = _check_rows(bound, result.add)
                result.add_all(_unbound_events(bound))
            result.add_all(_removed_frozen_items())
            result.anchors_checked = _check_anchors(result.add)
            db.session.commit()  # end the read snapshot before the long re-hash
            result.originals_checked = _check_originals(store, result.add_all)
            _record_audit(result, actor_id)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _AUDIT_LOCK})
            lock.commit()
    return result


def _record_audit(result: AuditResult, actor_id) -> None:
    append("audited", "chain", AUDIT_SUBJECT, actor_id=actor_id, details={
        "ok": result.problem_count == 0, "problems": result.problem_count,
        "problem_list": result.problems[:_LISTED_PROBLEMS],
        "originals_checked": result.originals_checked,
        "anchors_checked": result.anchors_checked,
        "rows_checked": result.rows_checked, "rows_bound": result.rows_bound})
    db.session.commit()


def last_audit() -> dict | None:
    """When the latest audit ran and what it found, or None if none ever ran."""
    # Audits share one subject, so the subject index finds them without a walk of the chain.
    event = db.session.scalar(
        select(CustodyEvent).where(CustodyEvent.subject_id == AUDIT_SUBJECT,
                                   CustodyEvent.action == "audited")
        .order_by(CustodyEvent.seq.desc()).limit(1))
    if event is None:
        return None
    problems = int(event.details.get("problems", 0))
    return {"at": event.occurred_at, "ok": event.details.get("ok", problems == 0),
            "problems": problems}


def bind_unbound(actor_id=None) -> int:
    """Bind rows made before rows were bound: each gets a `bound` event, in creation order.

    Only a row that still agrees with what its creation event recorded is bound, as it now
    stands; one that does not stays unbound and every audit names it. Appends a page at a
    time, so intake waits for the chain's lock no longer than for one submission.
    """
    pending = heapq.merge(*(_legacy_rows(bound) for bound in _BOUND),
                          key=lambda found: found[1]["seq"])
    count = 0
    while page := list(itertools.islice(pending, _PAGE)):
        entries = []
        for bound, row in page:
            if binding.legacy_mismatch(bound.kind, row["event_details"], row["event_at"],
                                       row) is not None:
                continue
            entries.append(Entry("bound", bound.kind, uuid.UUID(str(row["id"])), actor_id, {
                "row_sha256": binding.row_digest(bound.kind, row),
                "binds_seq": row["seq"], "binds_hash": row["event_hash"]}))
        if entries:
            append_many(entries)
        db.session.commit()
        count += len(entries)
    return count


def _legacy_rows(bound: _Bound) -> Iterator[tuple[_Bound, dict]]:
    """Rows whose creation event predates binding and that have no `bound` event, by seq."""
    query = text(f"""
        SELECT e.seq, e.hash AS event_hash, e.occurred_at AS event_at,
               e.details AS event_details, {bound.columns}
        FROM custody_events e JOIN {bound.table} t ON {bound.legacy_join}
        WHERE e.action = :action AND e.subject_type = :subject_type AND e.seq > :after
          AND e.details->>'row_sha256' IS NULL
          AND NOT EXISTS (SELECT 1 FROM custody_events b WHERE b.action = 'bound'
                          AND b.subject_type = :kind AND b.subject_id = t.id)
        ORDER BY e.seq LIMIT :limit""")
    after = 0
    while True:
        # A page at a time by seq, read whole, so that binding may commit between pages.
        rows = db.session.execute(query, {
            "action": bound.action, "subject_type": bound.subject_type, "kind": bound.kind,
            "after": after, "limit": _PAGE}).mappings().all()
        for row in rows:
            yield bound, dict(row)
        if len(rows) < _PAGE:
            return
        after = rows[-1]["seq"]


def _check_rows(bound: _Bound, found: Callable[[str], None]) -> int:
    """Compare every row of one kind with the event that bound it; returns rows seen."""
    link = f"t.{bound.link}" if bound.link else "NULL"
    query = text(f"""
        WITH bindings AS (
            SELECT DISTINCT ON (row_id) row_id, seq, digest, link FROM (
                SELECT {bound.row_id} AS row_id, seq, details->>'row_sha256' AS digest,
                       hash AS link
                FROM custody_events
                WHERE action = :action AND subject_type = :subject_type
                  AND details->>'row_sha256' IS NOT NULL
                UNION ALL
                SELECT subject_id::text, seq, details->>'row_sha256', details->>'binds_hash'
                FROM custody_events WHERE action = 'bound' AND subject_type = :kind
            ) found ORDER BY row_id, seq
        )
        SELECT b.row_id AS bound_id, b.seq AS bound_seq, b.digest AS bound_digest,
               b.link AS bound_link, {link} AS row_link, {bound.columns}
        FROM bindings b FULL JOIN {bound.table} t ON t.id::text = b.row_id""")
    seen = 0
    rows = db.session.execute(query.execution_options(yield_per=_PAGE), {
        "action": bound.action, "subject_type": bound.subject_type, "kind": bound.kind})
    for row in rows.mappings():
        seen += row["id"] is not None
        problem = _row_problem(bound, row)
        if problem:
            found(problem)
    return seen


def _row_problem(bound: _Bound, row) -> str | None:
    kind, seq = bound.kind, row["bound_seq"]
    if row["id"] is None:
        return (f"{kind} {row['bound_id']}: deleted behind the app's back (custody event "
                f"#{seq} bound it; its row is gone)")
    if row["bound_id"] is None:
        return (f"{kind} {row['id']}: no custody event binds this row (added or changed "
                f"behind the app's back)")
    if binding.row_digest(kind, row) != row["bound_digest"]:
        return (f"{kind} {row['id']}: altered behind the app's back (its fields no longer "
                f"match the digest bound in custody event #{seq})")
    if bound.link and row["row_link"] != row["bound_link"]:
        return f"{kind} {row['id']}: its {bound.link} no longer names custody event #{seq}"
    return None


def _unbound_events(bound: _Bound) -> Iterator[str]:
    """Creation events from before binding whose row was never bound: gone or changed."""
    query = text("""
        SELECT e.seq, e.subject_id FROM custody_events e
        WHERE e.action = :action AND e.subject_type = :subject_type
          AND e.details->>'row_sha256' IS NULL
          AND NOT EXISTS (SELECT 1 FROM custody_events b WHERE b.action = 'bound'
                          AND b.subject_type = :kind AND b.details->>'binds_hash' = e.hash)
        ORDER BY e.seq""")
    rows = db.session.execute(query.execution_options(yield_per=_PAGE), {
        "action": bound.action, "subject_type": bound.subject_type, "kind": bound.kind})
    for seq, subject_id in rows:
        what = f"review of photo {subject_id}" if bound.kind == "review" else (
            f"{bound.kind} {subject_id}")
        yield (f"{what}: recorded by custody event #{seq}, but no row agreeing with it "
               f"could be bound (deleted or changed behind the app's back)")


def _removed_frozen_items() -> Iterator[str]:
    """Every item a dossier's signed manifest froze must still be an item of its case, and
    its photo must still have the hash frozen (removing one is refused by the app)."""
    dossiers = db.session.execute(
        text("SELECT id, label, case_id, manifest FROM dossiers ORDER BY created_at")
        .execution_options(yield_per=20))
    items_of_case = text("""
        SELECT i.photo_id::text AS photo_id, p.sha256 FROM evidence_items i
        LEFT JOIN photos p ON p.id = i.photo_id WHERE i.case_id = :case_id""")
    for dossier in dossiers.mappings():
        standing = {row.photo_id: row.sha256 for row in db.session.execute(
            items_of_case, {"case_id": dossier["case_id"]})}
        name = f"dossier {dossier['label']} ({dossier['id']})"
        for item in binding.frozen_items(dossier["manifest"]):
            where = f"{name}: evidence item {item['number']} (photo {item['photo_id']})"
            if item["photo_id"] not in standing:
                yield f"{where} was removed from case {dossier['case_id']}"
            elif standing[item["photo_id"]] is None:
                yield f"{where}: its photo row is gone"
            elif standing[item["photo_id"]] != item["sha256"]:
                yield f"{where}: its photo no longer has the hash frozen ({item['sha256']})"


def _check_anchors(found: Callable[[str], None]) -> int:
    """Every RFC 3161 anchor against the chain as it stands (fieldapp.anchors); returns how
    many there are."""
    from fieldapp.anchors import service as anchors

    for problem in anchors.audit_problems():
        found(problem)
    return db.session.scalar(text("SELECT count(*) FROM custody_anchors"))


def _check_originals(store, found: Callable[[Iterable[str]], None]) -> int:
    """Re-hash every original, a page of hashes at a time, holding no transaction open."""
    page = text("SELECT DISTINCT sha256 FROM photos WHERE sha256 > :after "
                "ORDER BY sha256 LIMIT :limit")
    after, checked = "", 0
    while True:
        hashes = db.session.scalars(page, {"after": after, "limit": _PAGE}).all()
        db.session.commit()
        found(altered_originals(store, hashes))
        checked += len(hashes)
        if len(hashes) < _PAGE:
            return checked
        after = hashes[-1]
