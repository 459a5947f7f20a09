"""Anchoring the custody chain's head with RFC 3161 time-stamping authorities (TSAs).

An anchor is a TSA's signed statement that the chain's event N, with its hash, existed at the
TSA's time: every event before N is fixed by the chain's links, so a photo's `received` event
is as old as the first anchor at or after it, on a clock the NGO does not control.

Talking to a TSA takes a network round trip and may hang on a TSA that is down, so nothing
here holds a database transaction or the chain's lock while it does: anchors are read and
written in their own short sessions, never in the caller's. A caller (a background job, a
dossier freeze) can therefore ask for an anchor while its own transaction is open, and intake
never waits for a TSA. Failures are raised, not retried here: retries with backoff belong to
the job that calls anchor_head().
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from fieldapp.anchors import tsa
from fieldapp.anchors.models import Anchor
from fieldapp.custody import chain
from fieldapp.custody.models import CustodyEvent
from fieldapp.errors import FieldappError, NotFound
from fieldapp.extensions import db

log = logging.getLogger(__name__)


class AnchorFailed(FieldappError):
    """No configured TSA gave an acceptable token (the job retries later)."""

    code = 503
    sub_code = "TSA_UNAVAILABLE"


@dataclass
class AnchorRun:
    """What one round of anchoring did."""

    head_seq: int | None = None
    anchored: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def tsa_urls() -> list[str]:
    return list(current_app.config.get("FIELDAPP_TSA_URLS") or [])


def trusted_roots(ca_file: str | None = None) -> list:
    """The TSA roots that tokens must chain to (FIELDAPP_TSA_CA_FILE unless given)."""
    path = ca_file or current_app.config.get("FIELDAPP_TSA_CA_FILE")
    if not path:
        raise AnchorFailed("FIELDAPP_TSA_CA_FILE is not set: no token can be verified, so "
                           "none is accepted")
    try:
        return tsa.read_roots(path)
    except tsa.TsaError as err:
        raise AnchorFailed(str(err)) from err


@contextmanager
def _own_session() -> Iterator[Session]:
    # Not db.session: the caller's transaction (and any lock it holds) stays untouched.
    with Session(db.engine, expire_on_commit=False) as session:
        yield session


def anchor_head(*, ignore_interval: bool = False) -> AnchorRun:
    """Ask every configured TSA that has not yet anchored the chain's head to do so.

    Idempotent: a TSA whose newest anchor is the head is not asked again, nor (unless
    ignore_interval) one that anchored less than FIELDAPP_ANCHOR_INTERVAL_S ago. Raises
    AnchorFailed, after recording the tokens it did get, when any TSA that was asked failed.
    """
    urls = tsa_urls()
    if not urls:
        return AnchorRun()
    with _own_session() as session:
        event = _head_event(session)
        if event is None:
            return AnchorRun()
        anchored_head = set(session.scalars(
            select(Anchor.tsa_url).where(Anchor.tsa_url.in_(urls), Anchor.seq >= event["seq"])))
        recent = dict(session.execute(
            select(Anchor.tsa_url, func.max(Anchor.created_at))
            .where(Anchor.tsa_url.in_(urls)).group_by(Anchor.tsa_url)).all())
    interval = timedelta(seconds=current_app.config.get("FIELDAPP_ANCHOR_INTERVAL_S", 60))
    # A job queued one interval after the last anchor may start a moment early: a little
    # slack keeps it from skipping a whole interval.
    interval -= min(timedelta(seconds=5), interval / 10)
    now = datetime.now(UTC)
    due = [url for url in urls if url not in anchored_head
           and (ignore_interval or url not in recent or now - recent[url] >= interval)]
    run = _anchor(event, due)
    if run.failures:
        raise AnchorFailed(_failure_message(run))
    return run


def ensure_covering_anchor(seq: int) -> list[Anchor]:
    """Anchors at or after event seq; if there are none, the head is anchored now.

    With no TSA configured there is nothing to ask and the answer is empty (a dossier then
    says it carries no timestamps). Raises AnchorFailed if TSAs are configured and none of
    them could anchor.
    """
    covering = covering_anchors(seq)
    if covering or not tsa_urls():
        return covering
    with _own_session() as session:
        event = _head_event(session)
    run = _anchor(event, tsa_urls())
    covering = covering_anchors(seq)
    if not covering:
        raise AnchorFailed(_failure_message(run))
    return covering


def covering_anchors(seq: int) -> list[Anchor]:
    """For each TSA, its earliest anchor at or after event seq (the tightest bound it gives)."""
    with _own_session() as session:
        first = (select(Anchor.tsa_url, func.min(Anchor.seq).label("seq"))
                 .where(Anchor.seq >= seq).group_by(Anchor.tsa_url).subquery())
        return list(session.scalars(
            select(Anchor).join(first, (Anchor.tsa_url == first.c.tsa_url)
                                & (Anchor.seq == first.c.seq))
            .order_by(Anchor.seq, Anchor.tsa_url)))


def covering_each(seqs) -> dict[int, list[Anchor]]:
    """covering_anchors() for many events at once: seq -> each TSA's earliest anchor >= seq."""
    seqs = sorted(set(seqs))
    if not seqs:
        return {}
    # One index probe (tsa_url, seq) per event and TSA, not a scan of every later anchor.
    found = text("""
        SELECT wanted.seq AS wanted, first.id
        FROM unnest(CAST(:seqs AS bigint[])) AS wanted(seq)
        CROSS JOIN (SELECT DISTINCT tsa_url FROM custody_anchors) AS authority
        CROSS JOIN LATERAL (
            SELECT id FROM custody_anchors AS anchor
            WHERE anchor.tsa_url = authority.tsa_url AND anchor.seq >= wanted.seq
            ORDER BY anchor.seq LIMIT 1) AS first
    """)
    with _own_session() as session:
        pairs = session.execute(found, {"seqs": seqs}).all()
        anchors = {anchor.id: anchor for anchor in session.scalars(
            select(Anchor).where(Anchor.id.in_({pair.id for pair in pairs})))}
    covering: dict[int, list[Anchor]] = {seq: [] for seq in seqs}
    for pair in pairs:
        covering[pair.wanted].append(anchors[pair.id])
    for found_anchors in covering.values():
        found_anchors.sort(key=lambda anchor: (anchor.seq, anchor.tsa_url))
    return covering


def _head_event(session: Session) -> dict | None:
    head = session.scalar(select(CustodyEvent).order_by(CustodyEvent.seq.desc()).limit(1))
    return head.as_chain_dict() if head else None


def _anchor(event: dict, urls: list[str]) -> AnchorRun:
    """Ask each TSA in urls to time-stamp event's hash; record every verified token."""
    run = AnchorRun(head_seq=event["seq"])
    if not urls:
        return run
    roots = trusted_roots()
    # The chain rule's input for this event: it hashes to the event's hash, the imprint.
    preimage = event["prev_hash"].encode() + chain.canonical_json(chain.hashed_body(event))
    timeout = current_app.config.get("FIELDAPP_TSA_TIMEOUT_S", 10)
    rows = []
    for url in urls:
        try:
            response, token = tsa.timestamp(url, preimage, event["hash"], roots, timeout)
        except tsa.TsaError as err:
            log.warning("anchor of custody event #%s not made: %s", event["seq"], err)
            run.failures.append(str(err))
            continue
        rows.append({"seq": event["seq"], "hash": event["hash"], "tsa_url": url,
                     "gen_time": token.gen_time, "serial_number": token.serial_number,
                     "response": response, "created_at": datetime.now(UTC)})
    if rows:
        with _own_session() as session, session.begin():
            # Two workers anchoring the same head at once keep the first token of each TSA.
            session.execute(insert(Anchor).values(rows).on_conflict_do_nothing(
                index_elements=["seq", "tsa_url"]))
        run.anchored = [{key: row[key] for key in ("seq", "hash", "tsa_url", "gen_time")}
                        for row in rows]
    return run


def _failure_message(run: AnchorRun) -> str:
    made = (f"anchored event #{run.head_seq} with {len(run.anchored)} TSA(s); "
            if run.anchored else "")
    return made + "not anchored: " + "; ".join(run.failures or ["no TSA answered"])


def get_anchor(anchor_id: int) -> Anchor:
    anchor = db.session.get(Anchor, anchor_id)
    if anchor is None:
        raise NotFound("no such anchor")
    return anchor


def list_anchors(limit: int = 100, offset: int = 0) -> list[Anchor]:
    """Anchors, newest first."""
    return list(db.session.scalars(
        select(Anchor).order_by(Anchor.seq.desc(), Anchor.tsa_url).limit(limit).offset(offset)))


@dataclass(frozen=True)
class Check:
    anchor: Anchor
    problem: str | None


def reverify(ca_file: str | None = None) -> Iterator[Check]:
    """Every anchor, oldest first, re-checked: its token against the TSA roots, its hash
    against the custody event it names."""
    return _checks(trusted_roots(ca_file))


def audit_problems() -> Iterator[str]:
    """The custody audit's look at the anchors: each must still name an event of the chain
    with the hash it recorded, and its token must be over that hash at the recorded time.

    So a chain rewritten, however consistently, at or before an anchored event is named, and
    so is an anchor row changed to follow it. The token's signature is checked against
    FIELDAPP_TSA_CA_FILE when it is set; without it only what the token says is compared
    (`fieldapp custody anchors --tsa-ca` checks the signatures).
    """
    ca_file = current_app.config.get("FIELDAPP_TSA_CA_FILE")
    try:
        roots = tsa.read_roots(ca_file) if ca_file else None
    except tsa.TsaError as err:
        yield f"anchors: their tokens' signatures cannot be checked ({err})"
        roots = None
    for check in _checks(roots):
        if check.problem is not None:
            anchor = check.anchor
            yield (f"anchor {anchor.id} of custody event #{anchor.seq} ({anchor.tsa_url}, "
                   f"{anchor.gen_time.isoformat()}): {check.problem}")


def _checks(roots) -> Iterator[Check]:
    stmt = (select(Anchor, CustodyEvent.hash)
            .join(CustodyEvent, CustodyEvent.seq == Anchor.seq, isouter=True)
            .order_by(Anchor.seq, Anchor.tsa_url).execution_options(yield_per=200))
    for anchor, event_hash in db.session.execute(stmt):
        yield Check(anchor, _problem(anchor, event_hash, roots))


def _problem(anchor: Anchor, event_hash: str | None, roots) -> str | None:
    if event_hash is None:
        return f"custody event #{anchor.seq} is gone (the chain was cut)"
    if event_hash != anchor.hash:
        return (f"custody event #{anchor.seq} no longer has the hash the anchor recorded "
                f"(the chain was rewritten at or before it)")
    try:
        token = (tsa.verify(anchor.response, anchor.hash, roots) if roots is not None
                 else tsa.read(anchor.response, anchor.hash))
    except tsa.TsaError as err:
        return str(err)
    if token.gen_time != anchor.gen_time:
        return f"the token's time {token.gen_time.isoformat()} is not the recorded one"
    return None
