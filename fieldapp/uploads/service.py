"""Resumable uploads: create, append, read, terminate, sweep, and hand over to a report.

The service owns every transaction. None is held while a body streams, and a chunk writes
nothing to the database: under a lock on the spool file (not in the database) the chunk is
appended at the spool's size, which is the upload's offset, and fdatasynced before that
offset is answered (see spool). The row records what never changes (owner, length, expiry)
and, from the last chunk on, that the upload is finished and its SHA-256. A crash between
the last chunk's fdatasync and that commit leaves a whole spool beside an unfinished row:
whoever next asks where the upload stands (HEAD, or a report naming it) finishes it.

The daily byte quota (reports.quota) is held against the lengths of the account's unused
uploads at creation, so a volunteer cannot park more than the quota in spools; the bytes
are counted for good once, as photos, when a report uses the upload.
"""
from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from werkzeug.exceptions import ClientDisconnected

from fieldapp.accounts.models import User
from fieldapp.errors import (
    BadRequest,
    ChecksumMismatch,
    Conflict,
    Gone,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    Unprocessable,
    UnsupportedMediaType,
    field_error,
)
from fieldapp.extensions import db
from fieldapp.reports import quota
from fieldapp.reports.models import Report
from fieldapp.storage import chunks
from fieldapp.uploads import protocol, spool
from fieldapp.uploads.models import Upload

# How long a request waits for another one writing the same upload to end (behind `fieldapp
# serve` a chunk arrives whole and is written at memory speed) before it is told UPLOAD_BUSY.
LOCK_WAIT_S = 2.0
# A spool file with no row is a creation that failed between the two; it is removed by the
# sweep once it is older than this (a creation in progress takes milliseconds).
ORPHAN_AFTER_S = 3600

_STATUS = {400: BadRequest, 409: Conflict, 413: PayloadTooLarge, 415: UnsupportedMediaType,
           422: Unprocessable}


def _refusal(error: protocol.ProtocolError):
    return field_error(error.header, error.message, cls=_STATUS[error.status],
                       sub_code="TUS_" + error.header.upper().replace("-", "_"))


def _now() -> datetime:
    return datetime.now(UTC)


def _tmp_dir():
    return current_app.extensions["blob_store"].tmp_dir


def max_size() -> int:
    """Tus-Max-Size: the per-photo cap (FIELDAPP_MAX_PHOTO_BYTES)."""
    return current_app.config["FIELDAPP_MAX_PHOTO_BYTES"]


def capabilities() -> dict[str, str]:
    return protocol.capability_headers(max_size())


def check_version(value: str | None) -> None:
    if not protocol.supported_version(value):
        message = f"this server speaks tus {protocol.VERSION} (send Tus-Resumable: " \
                  f"{protocol.VERSION})"
        error = field_error("Tus-Resumable", message, cls=PreconditionFailed,
                            sub_code="TUS_VERSION")
        error.data["headers"] = {"Tus-Version": protocol.VERSION}
        raise error


@dataclass
class ChunkRequest:
    """What a PATCH (or a POST with data) brings: its headers, parsed, and its body."""

    content_type: str | None
    offset_header: str | None
    checksum_header: str | None
    content_length: int | None
    stream: object


def state_headers(upload: Upload, offset: int, *, head: bool = False) -> dict[str, str]:
    headers = {"Upload-Offset": str(offset)}
    if upload.report_id is None:
        headers["Upload-Expires"] = protocol.http_date(upload.expires_at)
    if head:
        headers["Upload-Length"] = str(upload.length)
        headers["Cache-Control"] = "no-store"
        if upload.metadata_header:
            headers["Upload-Metadata"] = upload.metadata_header
    return headers


def create(user: User, length_header: str | None, defer_header: str | None,
           metadata_header: str | None, chunk: ChunkRequest | None) -> tuple[Upload, dict]:
    """POST: a new upload of the declared length (and its first bytes, if sent)."""
    try:
        length = protocol.creation_length(length_header, defer_header, max_size())
        filename = protocol.filename_of(protocol.parse_metadata(metadata_header))
        if chunk is not None:
            protocol.parse_checksum(chunk.checksum_header)
    except protocol.ProtocolError as exc:
        raise _refusal(exc) from None
    now = _now()
    upload = Upload(id=uuid.uuid4(), owner_id=user.id, length=length, received=0,
                    metadata_header=(metadata_header or "").strip() or None,
                    filename=filename, created_at=now,
                    expires_at=now + timedelta(seconds=current_app.config[
                        "FIELDAPP_UPLOAD_TTL_S"]))
    path = spool.path_for(_tmp_dir(), upload.id)
    try:
        quota.enforce_in_transaction(user, _unused_bytes(user.id) + length)
        db.session.add(upload)
        db.session.flush()
        spool.create(path)
        db.session.commit()
    except Exception:
        db.session.rollback()
        spool.remove(path)
        raise
    if chunk is not None and (chunk.content_length or 0) > 0:
        try:
            # The first bytes of a new upload start at offset 0, whatever else is said.
            return upload, append(user.id, upload.id, replace(chunk, offset_header="0"))
        except Exception:
            # A creation whose first bytes were refused leaves nothing behind: the client
            # never learned where the upload is.
            _terminate(upload.id)
            raise
    return upload, state_headers(upload, 0)


def _unused_bytes(user_id) -> int:
    """Bytes of the account's uploads that no report has used yet and that have not expired."""
    return db.session.scalar(
        select(func.coalesce(func.sum(Upload.length), 0))
        .where(Upload.owner_id == user_id, Upload.report_id.is_(None),
               Upload.expires_at > _now())) or 0


def _owned(user_id: uuid.UUID, upload_id: uuid.UUID) -> Upload:
    """The user's upload, 404 for anyone else's (its existence is not disclosed), 410 once
    it has expired."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.owner_id != user_id:
        raise NotFound("no such upload")
    if upload.expired(_now()):
        raise Gone(f"the upload expired at {upload.expires_at.isoformat()}; start a new one",
                   sub_code="UPLOAD_EXPIRED")
    return upload


def status(user: User, upload_id: uuid.UUID) -> dict[str, str]:
    """HEAD: where the upload stands."""
    upload = _owned(user.id, upload_id)
    _detach(upload)
    try:
        return state_headers(upload, _settle(upload), head=True)
    except spool.Busy:
        raise _busy() from None
    except FileNotFoundError:
        raise NotFound("no such upload") from None


def _detach(*uploads: Upload) -> None:
    """End the read's transaction, the rows kept as read (not expired and read again)."""
    for upload in uploads:
        db.session.expunge(upload)
    db.session.rollback()


def _settle(upload: Upload) -> int:
    """The bytes a (detached) upload holds for good: its length once finished, else its
    spool's size, read under a shared lock (a chunk being written is waited for). A whole
    spool beside an unfinished row is a crash between the last chunk's fdatasync and its
    commit: the upload is finished now, and `upload` says so."""
    if upload.finished:
        return upload.length
    path = spool.path_for(_tmp_dir(), upload.id)
    with spool.locked(path, shared=True, wait_s=LOCK_WAIT_S) as fd:
        held = spool.held(fd)
        if held == upload.length:
            upload.sha256 = spool.sha256_of(fd, path.name, held)
            upload.finished_at = _finish(upload.id, upload.sha256)
            upload.received = held
    return held


def _finish(upload_id: uuid.UUID, sha256: str) -> datetime:
    """Record a whole spool as the finished upload (once: a second finisher changes
    nothing); when."""
    now = _now()
    db.session.execute(
        update(Upload).where(Upload.id == upload_id, Upload.finished_at.is_(None),
                             Upload.report_id.is_(None))
        .values(received=Upload.length, sha256=sha256, finished_at=now))
    db.session.commit()
    return now


def _busy() -> Conflict:
    return Conflict("another request is writing this upload; ask HEAD for its offset once "
                    "it ends", sub_code="UPLOAD_BUSY")


@dataclass(frozen=True)
class _Facts:
    """What never changes about an upload once created: kept per process, so that a chunk
    costs no read of its row."""

    owner_id: uuid.UUID
    length: int
    expires_at: datetime


_FACTS: OrderedDict[uuid.UUID, _Facts] = OrderedDict()
_KEPT_FACTS = 1024


def _facts(user_id: uuid.UUID, upload_id: uuid.UUID) -> _Facts:
    facts = _FACTS.get(upload_id)
    if facts is None:
        upload = _owned(user_id, upload_id)
        facts = _Facts(upload.owner_id, upload.length, upload.expires_at)
        db.session.rollback()
        _FACTS[upload_id] = facts
        while len(_FACTS) > _KEPT_FACTS:
            _FACTS.popitem(last=False)
    if facts.owner_id != user_id:
        raise NotFound("no such upload")
    if facts.expires_at <= _now():
        _owned(user_id, upload_id)  # 410 while unused, nothing if a report used it
    return facts


def append(user_id: uuid.UUID, upload_id: uuid.UUID, chunk: ChunkRequest) -> dict[str, str]:
    """PATCH by the user `user_id`: append one request's bytes at the upload's offset; the
    new state's headers.

    Under the spool's lock the offset is the spool's size, so a chunk reads no row (what the
    row says that matters here never changes, and is kept per process) and writes none but
    the last one's."""
    if (chunk.content_type or "").split(";")[0].strip().lower() != protocol.CHUNK_MEDIA_TYPE:
        raise field_error("Content-Type", f"must be {protocol.CHUNK_MEDIA_TYPE}",
                          cls=UnsupportedMediaType, sub_code="TUS_CONTENT_TYPE")
    try:
        claimed = protocol.non_negative("Upload-Offset", chunk.offset_header)
        checksum = protocol.parse_checksum(chunk.checksum_header)
    except protocol.ProtocolError as exc:
        raise _refusal(exc) from None
    path = spool.path_for(_tmp_dir(), upload_id)
    try:
        with spool.locked(path, wait_s=LOCK_WAIT_S) as fd:
            facts = _facts(user_id, upload_id)
            held = spool.held(fd)
            protocol.check_chunk(held, facts.length, claimed, chunk.content_length)
            with spool.Chunk(fd, path, held, checksum) as piece:
                return _write(upload_id, facts, piece, chunk)
    except protocol.ProtocolError as exc:
        raise _refusal(exc) from None
    except spool.Busy:
        raise _busy() from None
    except FileNotFoundError:
        raise NotFound("no such upload") from None
    finally:
        db.session.rollback()


def _write(upload_id: uuid.UUID, facts: _Facts, piece: spool.Chunk,
           chunk: ChunkRequest) -> dict[str, str]:
    remaining = facts.length - piece.start
    complete = True
    try:
        for data in chunks.from_stream(chunk.stream):
            if piece.written + len(data) > remaining:
                piece.discard()
                raise field_error("Content-Length", f"the body runs past the upload's length "
                                  f"of {facts.length}", cls=PayloadTooLarge,
                                  sub_code="TUS_CONTENT_LENGTH")
            piece.write(data)
    except ClientDisconnected:
        # The protocol asks a server to keep as much as it received; a chunk that carries a
        # checksum cannot be checked when cut short, so it is dropped.
        complete = False
        if piece.checksum is not None:
            piece.discard()
            raise
    if complete and not piece.matches():
        piece.discard()
        raise ChecksumMismatch(f"Upload-Checksum: the {piece.expected.algorithm} of the "
                               f"{piece.written} bytes received does not match; the chunk "
                               "was discarded",
                               errors={"Upload-Checksum": ["does not match the body"]},
                               sub_code="TUS_CHECKSUM_MISMATCH")
    end = piece.keep()
    if end == facts.length:
        _finish(upload_id, piece.sha256())
    piece.remember()
    return {"Upload-Offset": str(end),
            "Upload-Expires": protocol.http_date(facts.expires_at)}


def terminate(user: User, upload_id: uuid.UUID) -> None:
    """DELETE: an upload no report has used is removed, row and spool."""
    upload = _owned(user.id, upload_id)
    if upload.report_id is not None:
        raise Conflict(f"the upload is a photo of report {upload.report_id} now; originals "
                       "are never deleted", sub_code="UPLOAD_USED")
    db.session.rollback()
    if not _terminate(upload_id):
        raise Conflict("another request is writing this upload; try again when it ends",
                       sub_code="UPLOAD_BUSY")


def _terminate(upload_id: uuid.UUID) -> bool:
    """Remove an unused upload's row and spool, unless a request is writing it (False)."""
    path = spool.path_for(_tmp_dir(), upload_id)
    try:
        with spool.locked(path):
            db.session.execute(delete(Upload).where(Upload.id == upload_id,
                                                    Upload.report_id.is_(None)))
            db.session.commit()
            spool.remove(path, upload_id)
    except spool.Busy:
        return False
    except FileNotFoundError:
        db.session.execute(delete(Upload).where(Upload.id == upload_id,
                                                Upload.report_id.is_(None)))
        db.session.commit()
    return True


def sweep_expired() -> int:
    """Remove every unused upload past its expiry (row and spool), and spools no unused
    upload owns (a creation that failed half-way, a used upload whose spool outlived a
    crash); how many uploads were removed. An upload being written right now is left for
    the next sweep."""
    expired = db.session.scalars(
        select(Upload.id).where(Upload.report_id.is_(None), Upload.expires_at <= _now())).all()
    db.session.rollback()
    removed = sum(_terminate(upload_id) for upload_id in expired)
    oldest = _now().timestamp() - ORPHAN_AFTER_S
    candidates = {}
    for entry in spool.directory(_tmp_dir()).iterdir():
        try:
            if entry.stat().st_mtime < oldest:
                candidates[entry] = uuid.UUID(hex=entry.name)
        except ValueError:  # not a name this module gives: nothing of ours
            candidates[entry] = None
        except FileNotFoundError:
            continue
    live = set(db.session.scalars(select(Upload.id).where(
        Upload.id.in_([i for i in candidates.values() if i]), Upload.report_id.is_(None))))
    db.session.rollback()
    for entry, upload_id in candidates.items():
        if upload_id not in live:
            spool.remove(entry)
    return removed


# --- handing finished uploads to a report ------------------------------------------------


@dataclass
class StagedPart:
    """A finished upload as the report intake reads a multipart part: .stream, .filename."""

    field: str
    upload_id: uuid.UUID
    stream: spool.FinishedSpool
    filename: str | None


@dataclass
class Staged:
    """The uploads a report names: the ones still to be used, with their spools open, and the
    SHA-256 of every one in the order named (for the report's fingerprint)."""

    parts: list[StagedPart] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)

    def close(self) -> None:
        for part in self.parts:
            part.stream.close()

    @property
    def ids(self) -> list[uuid.UUID]:
        return [part.upload_id for part in self.parts]


def for_report(user: User, upload_ids: list[uuid.UUID], client_id: uuid.UUID) -> Staged:
    """Check the uploads a report names before anything is written: each must be the user's,
    finished, unexpired and unused (422 naming report.uploads[i] otherwise). An upload that
    the very report with this client_id already used is let through by its hash, so that a
    retry of a stored report is answered as one."""
    staged = Staged()
    if not upload_ids:
        return staged
    rows = {row.id: row for row in db.session.scalars(
        select(Upload).where(Upload.id.in_(upload_ids)))}
    retried = db.session.scalar(select(Report.id).where(Report.client_id == client_id))
    _detach(*rows.values())
    now, seen = _now(), set()
    try:
        for index, upload_id in enumerate(upload_ids):
            name = f"report.uploads[{index}]"
            upload = rows.get(upload_id)
            if upload is None or upload.owner_id != user.id:
                raise field_error(name, "no such upload")
            if upload_id in seen:
                raise field_error(name, "the upload is named twice")
            seen.add(upload_id)
            if upload.report_id is not None:
                if upload.report_id != retried:
                    raise field_error(name, "the upload was already used by a report",
                                      sub_code="UPLOAD_USED")
                staged.hashes.append(upload.sha256)
                continue
            if upload.expired(now):
                raise field_error(name, f"the upload expired at {upload.expires_at.isoformat()}",
                                  sub_code="UPLOAD_EXPIRED")
            held = _held_for_report(name, upload)
            if not upload.finished:
                raise field_error(name, f"the upload is unfinished: {held} of "
                                  f"{upload.length} bytes received",
                                  sub_code="UPLOAD_UNFINISHED")
            try:
                opened = spool.FinishedSpool(spool.path_for(_tmp_dir(), upload_id),
                                             upload.length, upload.sha256)
            except (OSError, ValueError):
                raise field_error(name, "the upload's bytes are gone; send it again",
                                  sub_code="UPLOAD_LOST") from None
            staged.parts.append(StagedPart(name, upload_id, opened, upload.filename))
            staged.hashes.append(upload.sha256)
    except Exception:
        staged.close()
        raise
    return staged


def _held_for_report(name: str, upload: Upload) -> int:
    try:
        return _settle(upload)
    except spool.Busy:
        raise field_error(name, "the upload is being written right now; send the report once "
                          "it is finished", sub_code="UPLOAD_UNFINISHED") from None
    except FileNotFoundError:
        raise field_error(name, "the upload's bytes are gone; send it again",
                          sub_code="UPLOAD_LOST") from None


def lock_for_report(staged: Staged) -> None:
    """In the report's transaction: lock the uploads to be used and make sure no other
    report took one, and none expired, since they were checked."""
    if not staged.parts:
        return
    free = set(db.session.scalars(
        select(Upload.id).where(Upload.id.in_(staged.ids), Upload.report_id.is_(None),
                                Upload.expires_at > _now())
        .with_for_update()))
    for part in staged.parts:
        if part.upload_id not in free:
            raise field_error(part.field, "the upload was used by another report or "
                              "expired meanwhile", sub_code="UPLOAD_USED")


def mark_used(staged: Staged, report_id: uuid.UUID) -> None:
    """In the report's transaction, once its rows are flushed: the uploads are its photos."""
    if staged.parts:
        db.session.execute(update(Upload).where(Upload.id.in_(staged.ids))
                           .values(report_id=report_id, consumed_at=_now()))


def release_used(staged: Staged) -> None:
    """After the report's commit: the spools are linked into the blob store; drop them."""
    staged.close()
    for part in staged.parts:
        spool.remove(spool.path_for(_tmp_dir(), part.upload_id), part.upload_id)
