"""Freezing a case's evidence into a signed dossier, and streaming it as a ZIP.

Freezing does the slow work once: previews, the custody extract and the catalog PDF are
stored as blobs under their hashes, the manifest lists every hash and is signed, and the
row is immutable. A download then only streams stored files, in constant memory.

A freeze is a background job (fieldapp.jobs): the request numbers the dossier and queues
the job (202); its progress lives in dossier_freezes, and the dossier row is inserted only
once it is frozen. Intake never waits for a freeze: the chain's lock is held only by the
short transactions that append.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from zipstream import ZIP_STORED, ZipStream

from fieldapp.accounts.models import User
from fieldapp.anchors import service as anchors
from fieldapp.cases.models import Case, EvidenceItem
from fieldapp.cases.service import get_case
from fieldapp.complaints import service as complaints
from fieldapp.custody import service as custody
from fieldapp.custody.models import CustodyEvent
from fieldapp.dossiers import keys, system, timestamps
from fieldapp.dossiers import manifest as mf
from fieldapp.dossiers.models import Dossier, DossierFreeze
from fieldapp.errors import Conflict, FieldappError, NotFound, field_error
from fieldapp.extensions import db
from fieldapp.geo.geometry import lon_lat, to_geojson
from fieldapp.jobs import queue as jobs
from fieldapp.jobs.tasks import FREEZE
from fieldapp.memory import release_free_heap
from fieldapp.photos.service import ensure_derivative
from fieldapp.reports import analysis
from fieldapp.reports.models import Photo


class CatalogFailed(FieldappError):
    code = 500
    sub_code = "CATALOG_FAILED"


def blob_store():
    return current_app.extensions["blob_store"]


def data_dir() -> Path:
    return Path(current_app.config["FIELDAPP_DATA_DIR"])


def request_freeze(case_id: uuid.UUID, user: User) -> DossierFreeze:
    """Number the case's next dossier and queue its freeze; the freeze as it starts (202).

    Only the checks a lawyer must hear at once are made here (the case exists, has items
    that may enter, is not being frozen already); the slow work is the job's.
    """
    case = _locked_case(case_id)
    items, _ = _dossier_items(case)
    if not items:
        raise field_error("items", "the case has no evidence items that may enter a dossier")
    if db.session.scalar(select(DossierFreeze.id).where(DossierFreeze.case_id == case.id,
                                                        DossierFreeze.status == "freezing")):
        raise Conflict("a dossier of this case is being frozen; wait until it is frozen",
                       sub_code="FREEZE_IN_PROGRESS")
    number = (db.session.scalar(select(func.max(Dossier.number))
                                .where(Dossier.case_id == case.id)) or 0) + 1
    freeze_id, now = uuid.uuid4(), datetime.now(UTC)
    # The job is queued in this transaction: both exist after the commit, or neither.
    job_id = jobs.defer(FREEZE, freeze_id=str(freeze_id))
    freeze = DossierFreeze(id=freeze_id, case_id=case.id, number=number,
                           requested_by=user.id, requested_at=now, job_id=job_id,
                           status="freezing", step="queued", done=0, total=len(items),
                           updated_at=now)
    db.session.add(freeze)
    db.session.commit()
    return freeze


def run_freeze(freeze_id: uuid.UUID) -> Dossier | None:
    """The freeze job: build, sign and record the dossier; None if there is nothing to do.

    Idempotent: a freeze already frozen or failed is left alone, and one run again after
    its worker died finds its derivatives made. A failure marks the freeze failed with its
    reason and leaves no dossier row and no `exported` event; the error is raised again so
    the job is recorded as failed too.
    """
    freeze = db.session.get(DossierFreeze, freeze_id)
    if freeze is None or freeze.status != "freezing":
        db.session.rollback()
        return None
    try:
        dossier = _freeze(freeze)
    except Exception as exc:
        db.session.rollback()
        _fail(freeze_id, exc)
        raise
    finally:
        # Freezing decoded photos (analysis, previews): the worker gives that memory back.
        release_free_heap()
    return dossier


def _freeze(freeze: DossierFreeze) -> Dossier:
    # The custody chain's lock is taken by each append and held until its transaction ends.
    # Everything slow (decoding, rendering, writing files) therefore happens in transactions
    # that append nothing or commit right after their append; the `exported` event and the
    # dossier row come last, in one short transaction.
    user = db.session.get(User, freeze.requested_by)
    _settle_analyses(freeze, [item.photo_id for item in get_case(freeze.case_id).items])
    case = get_case(freeze.case_id)
    items, excluded = _dossier_items(case)
    if not items:
        raise field_error("items", "the case has no evidence items that may enter a dossier")
    _make_derivatives(freeze, items, user)
    _progress(freeze, "catalog", 0, 1)
    created_at = datetime.now(UTC)
    label = f"dossier-{case.id.hex[:8]}-{freeze.number:03d}"
    body = _manifest(case, items, excluded, freeze.id, freeze.number, label, created_at, user)
    return _record(freeze, case, items, body, label, created_at, user)


def _settle_analyses(freeze: DossierFreeze, photo_ids: list[uuid.UUID]) -> None:
    """A dossier states final checks only: photos still awaiting analysis are analysed now,
    each committed at once with its `verified` event."""
    waiting = db.session.scalars(select(Photo.id).where(
        Photo.id.in_(photo_ids), Photo.analysed_at.is_(None))).all()
    _progress(freeze, "analysis", 0, len(waiting))
    for done, photo_id in enumerate(waiting, start=1):
        analysis.settle([photo_id])
        _progress(freeze, "analysis", done, len(waiting))


def _make_derivatives(freeze: DossierFreeze, items: list[EvidenceItem], user: User) -> None:
    """Previews and catalog images, photo by photo. Making one reads the original, a custody
    event that is committed at once, before the next decode."""
    _progress(freeze, "previews", 0, len(items))
    for done, item in enumerate(items, start=1):
        for kind in ("preview", "catalog"):
            ensure_derivative(item.photo, kind, actor_id=user.id)
            db.session.commit()
        _progress(freeze, "previews", done, len(items))


def _progress(freeze: DossierFreeze, step: str, done: int, total: int) -> None:
    freeze.step, freeze.done, freeze.total = step, done, total
    freeze.updated_at = datetime.now(UTC)
    db.session.commit()


def _record(freeze, case, items, body, label, created_at, user) -> Dossier:
    """The short final transaction: sign, append `exported`, insert the dossier row."""
    signing_key = keys.signing_key(data_dir())
    signed = mf.manifest_bytes(body)
    manifest_sha = hashlib.sha256(signed).hexdigest()
    dossier = Dossier(
        id=freeze.id, case_id=case.id, number=freeze.number, label=label,
        created_by=user.id, created_at=created_at, manifest=signed,
        manifest_sha256=manifest_sha, signature=signing_key.sign(signed),
        public_key_pem=keys.public_key_pem(signing_key),
        catalog_sha256=body["files"]["catalog.pdf"],
        custody_sha256=body["files"]["custody.jsonl"], item_count=len(items),
        total_bytes=sum(item.photo.size for item in items))
    # The event binds the row's digest (custody.binding): an altered dossier row is found.
    event = custody.append("exported", "dossier", freeze.id, actor_id=user.id,
                           occurred_at=created_at, details={
                               "case_id": str(case.id), "label": label,
                               "photos": [str(item.photo_id) for item in items],
                               "manifest_sha256": manifest_sha,
                               "row_sha256": custody.row_sha256("dossier", dossier)})
    dossier.custody_hash = event.hash
    db.session.add(dossier)
    freeze.status, freeze.step, freeze.done = "frozen", "frozen", len(items)
    freeze.total = len(items)
    freeze.updated_at = freeze.finished_at = datetime.now(UTC)
    db.session.commit()
    return dossier


def _fail(freeze_id: uuid.UUID, exc: Exception) -> None:
    freeze = db.session.get(DossierFreeze, freeze_id)
    reason = exc.description if isinstance(exc, FieldappError) else (
        f"{type(exc).__name__}: {exc}")
    freeze.status, freeze.error = "failed", reason[:2000]
    freeze.updated_at = freeze.finished_at = datetime.now(UTC)
    db.session.commit()


def _locked_case(case_id: uuid.UUID) -> Case:
    get_case(case_id)
    # Requests for one case queue here, so each sees the freeze the one before queued.
    return db.session.scalar(select(Case).where(Case.id == case_id).with_for_update())


def _dossier_items(case: Case) -> tuple[list[EvidenceItem], list[dict]]:
    """Items that may enter: rejected photos only where the lawyer included them on purpose."""
    kept, excluded = [], []
    for item in case.items:
        review = item.photo.review
        if review and review.decision == "rejected" and not item.include_rejected:
            excluded.append({"item_id": str(item.id), "title": item.title,
                             "reason": "photo rejected in review"})
        else:
            kept.append(item)
    return kept, excluded


def _manifest(case, items, excluded, dossier_id, number, label, created_at, user) -> dict:
    photos = {str(item.photo_id): item.photo for item in items}
    # First, so the extract below reaches the anchors; asking a TSA holds no lock of ours.
    coverage = timestamps.cover(item.photo_id for item in items)
    handlers = system.handlers(items)
    body = {
        "format": mf.FORMAT,
        "dossier": {"id": str(dossier_id), "number": number, "label": label,
                    "created_at": created_at.isoformat(), "created_by_role": user.role},
        "case": {"id": str(case.id), "title": case.title, "authority": case.authority,
                 "case_number": case.case_number, "legal_status": case.legal_status},
        "site": _site_block(case.site),
        "items": [_item_block(n, item, coverage, handlers)
                  for n, item in enumerate(items, start=1)],
        "excluded_items": excluded,
        "complaints": mf.complaints_block(complaints.history(case.site_id)),
        "system": mf.system_block(system.environment(), system.monitoring(anchors.tsa_urls()),
                                  coverage.statement({str(item.photo_id): n for n, item
                                                      in enumerate(items, start=1)})),
        "timestamps": coverage.entries(),
        "files": timestamps.store_tokens(coverage, blob_store()),
    }
    # Making derivatives reads originals, which adds custody events: make them all first,
    # so the extract and the head below include every event up to this export.
    _store_previews(body, photos, user)
    images = {item["number"]: ensure_derivative(photos[item["photo_id"]], "catalog",
                                                actor_id=user.id) for item in body["items"]}
    head = custody.head()
    custody_sha, count = _store_custody_extract(
        items, coverage.ranges(), [entry["id"] for entry in body["complaints"]["entries"]],
        head.seq)
    # Again: an event on an item that landed while the extract was read must not lie beyond
    # the head the manifest records (each statement sees what was committed before it).
    head = custody.head()
    body["custody"] = {"head_seq": head.seq, "head_hash": head.hash, "events": count,
                       "file": "custody.jsonl"}
    body["files"]["custody.jsonl"] = custody_sha
    body["files"]["catalog.pdf"] = _store_catalog(body, images)
    return body


def _site_block(site) -> dict:
    names = ("name", "name_en", "operator", "uscc", "permit_number", "industry", "address",
             "region", "status")
    return {"id": str(site.id), **{n: getattr(site, n) for n in names},
            "geometry": to_geojson(site.geom)}


def _item_block(number: int, item: EvidenceItem, coverage: timestamps.Coverage,
                handlers: dict[str, list[dict]]) -> dict:
    photo, report = item.photo, item.photo.report
    photo_id = str(photo.id)
    original, preview = mf.item_paths(number, photo.sha256, photo.media_type)
    lon, lat = lon_lat(report.location)
    gps = photo.exif.get("gps")
    rejected = bool(photo.review and photo.review.decision == "rejected")
    return {
        "number": number, "title": item.title, "purpose": item.purpose,
        "photo_id": photo_id, "report_id": str(report.id),
        "source": {"volunteer": report.volunteer.pseudonym, "make": photo.exif.get("make"),
                   "model": photo.exif.get("model")},
        "capture_time": photo.checks.get("capture_time"),
        "capture_time_source": photo.checks.get("capture_time_source"),
        "place": {"exif": {"lat": gps["lat"], "lon": gps["lon"]} if gps else None,
                  "claim": {"lon": report.claim_lon, "lat": report.claim_lat,
                            "crs": report.claim_crs, "accuracy_m": report.accuracy_m,
                            "wgs84": {"lon": lon, "lat": lat}}},
        "category": report.category, "description": report.description,
        "observed_at": report.observed_at.isoformat(),
        "received_at": photo.received_at.isoformat(), "receipt_hash": photo.receipt_hash,
        "sha256": photo.sha256, "size": photo.size, "media_type": photo.media_type,
        # Reading the original for its SM3 is part of this export, recorded by its event.
        "sm3": mf.sm3_of(blob_store().path_for(photo.sha256)),
        "receipt_seq": coverage.receipts.get(photo_id),
        "timestamps": coverage.files(photo_id),
        "handlers": handlers.get(photo_id, []),
        "original": original, "preview": preview,
        "exif": mf.exif_summary(photo.exif), "checks": photo.checks.get("checks", []),
        "verdict": photo.verdict,
        "reviews": [{"decision": r.decision, "reason": r.reason,
                     "at": r.created_at.isoformat(), "reviewer_role": r.reviewer.role,
                     "custody_hash": r.custody_hash} for r in photo.reviews],
        "included_despite_rejection": rejected and item.include_rejected,
    }


def _store_previews(body: dict, photos: dict, user: User) -> None:
    """Freeze each preview as a blob, so every download ships the bytes the manifest hashes."""
    store = blob_store()
    for item in body["items"]:
        preview = ensure_derivative(photos[item["photo_id"]], "preview", actor_id=user.id)
        sha256, _, _ = store.put_file(preview)
        body["files"][item["preview"]] = sha256


def _store_custody_extract(items, ranges: list[tuple[int, int]], complaint_ids=(),
                           head_seq: int | None = None) -> tuple[str, int]:
    """custody.jsonl: every event of the items' photos and reports, and every event from each
    receipt to the anchor covering it (the walk from a photo to the neutral time), streamed
    to a spool file (the ranges can be long) and stored; returns (SHA-256, line count).
    The site's complaints' events come too, up to the head the manifest records."""
    subjects = {item.photo_id for item in items} | {item.photo.report_id for item in items}
    wanted = CustodyEvent.subject_id.in_(list(subjects))
    if complaint_ids:
        wanted = wanted | (CustodyEvent.subject_id.in_(list(complaint_ids))
                           & (CustodyEvent.seq <= head_seq))
    for low, high in ranges:
        wanted = wanted | CustodyEvent.seq.between(low, high)
    events = db.session.scalars(select(CustodyEvent).where(wanted).order_by(CustodyEvent.seq)
                                .execution_options(yield_per=1000))
    store, count = blob_store(), 0
    with tempfile.NamedTemporaryFile(dir=store.tmp_dir, prefix="custody-") as spool:
        for event in events:
            spool.write(json.dumps(event.as_chain_dict(), ensure_ascii=False,
                                   sort_keys=True).encode() + b"\n")
            count += 1
        spool.flush()
        sha256, _, _ = store.put_file(Path(spool.name))
    return sha256, count


def _store_catalog(body: dict, images: dict[int, Path]) -> str:
    """Render catalog.pdf in a child process and store it; returns its hash.

    The PDF embeds smaller copies of the previews (light for 500 items); the full previews
    ship beside it.
    """
    store = blob_store()
    work = Path(tempfile.mkdtemp(dir=store.tmp_dir, prefix="catalog-"))
    try:
        (work / "manifest.json").write_bytes(mf.manifest_bytes(body))
        (work / "images.json").write_text(json.dumps({n: str(p) for n, p in images.items()}))
        _render_in_child(work)
        sha256, _, _ = store.put_file(work / "catalog.pdf")
        return sha256
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _render_in_child(work: Path) -> None:
    font = current_app.config.get("FIELDAPP_CJK_FONT")
    command = [sys.executable, "-m", "fieldapp.dossiers.catalog", str(work / "manifest.json"),
               str(work / "images.json"), str(work / "catalog.pdf"), *([font] if font else [])]
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=current_app.config["FIELDAPP_CATALOG_TIMEOUT_S"])
    if result.returncode != 0:
        raise CatalogFailed(f"the catalog PDF could not be made: {result.stderr.strip()[-500:]}")


def get_dossier(dossier_id: uuid.UUID) -> Dossier:
    """A frozen dossier (one still freezing has no manifest and no ZIP yet)."""
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None:
        if db.session.get(DossierFreeze, dossier_id) is not None:
            raise Conflict("the dossier is not frozen yet", sub_code="NOT_FROZEN")
        raise NotFound("no such dossier")
    return dossier


def dossier_or_freeze(dossier_id: uuid.UUID) -> Dossier | DossierFreeze:
    """The dossier if frozen, else its freeze (in progress, or failed with its reason)."""
    found = db.session.get(Dossier, dossier_id) or db.session.get(DossierFreeze, dossier_id)
    if found is None:
        raise NotFound("no such dossier")
    return found


def list_dossiers(case_id: uuid.UUID) -> list[Dossier | DossierFreeze]:
    """The case's frozen dossiers by number, then the one being frozen, if any."""
    get_case(case_id)
    frozen = list(db.session.scalars(
        select(Dossier).where(Dossier.case_id == case_id).order_by(Dossier.number)))
    freezing = list(db.session.scalars(select(DossierFreeze).where(
        DossierFreeze.case_id == case_id, DossierFreeze.status == "freezing")))
    return frozen + freezing


def open_download(dossier_id: uuid.UUID, user: User) -> tuple[Dossier, ZipStream]:
    """Record the download in the custody chain, then give the ZIP to stream."""
    dossier = get_dossier(dossier_id)
    custody.append("dossier_downloaded", "dossier", dossier.id, actor_id=user.id,
                   details={"label": dossier.label, "manifest_sha256": dossier.manifest_sha256,
                            "role": user.role})
    db.session.commit()
    return dossier, build_zip(dossier)


def build_zip(dossier: Dossier) -> ZipStream:
    """The dossier as a lazily streamed, uncompressed ZIP of stored files."""
    body = json.loads(dossier.manifest)
    store = blob_store()
    stream = ZipStream(compress_type=ZIP_STORED, sized=True)
    top = dossier.label
    small = {"manifest.json": dossier.manifest, "manifest.sig": dossier.signature,
             "public_key.pem": dossier.public_key_pem}
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in small.items()}
    paths = {item["original"]: store.path_for(item["sha256"]) for item in body["items"]}
    sums.update({item["original"]: item["sha256"] for item in body["items"]})
    for name, sha256 in body["files"].items():
        paths[name] = store.path_for(sha256)
        sums[name] = sha256
    stream.add(_sha256sums(sums), f"{top}/SHA256SUMS")
    for name, data in small.items():
        stream.add(data, f"{top}/{name}")
    for name in sorted(paths):
        stream.add_path(str(paths[name]), f"{top}/{name}")
    return stream


def _sha256sums(sums: dict[str, str]) -> bytes:
    return "".join(f"{sha}  {name}\n" for name, sha in sorted(sums.items())).encode()
