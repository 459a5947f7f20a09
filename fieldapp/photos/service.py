"""Reading photos: metadata, the original (a custody event), metadata-free derivatives.

A photo whose pixels cannot be rendered (over the pixel budget, or undecodable) has no
preview or thumbnail: the API answers 422 PHOTO_NOT_RENDERABLE, saying why, rather than an
image a client could mistake for the photo and keep; a dossier shows a placeholder image
instead, so that one such photo never stops a freeze.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from fieldapp.accounts.models import User
from fieldapp.custody import service as custody
from fieldapp.errors import FieldappError, NotFound, Unprocessable
from fieldapp.evidence import imaging
from fieldapp.extensions import db
from fieldapp.reports.models import VERDICTS, Photo, Report
from fieldapp.reports.service import can_see
from fieldapp.reviews.models import Review
from fieldapp.storage.blobs import sha256_of

DERIVATIVE_SIZES = {"preview": "FIELDAPP_PREVIEW_PX", "thumbnail": "FIELDAPP_THUMBNAIL_PX",
                    "catalog": "FIELDAPP_CATALOG_PX"}


class OriginalMissing(FieldappError):
    code = 500
    sub_code = "ORIGINAL_MISSING"


class NotRenderable(Unprocessable):
    sub_code = "PHOTO_NOT_RENDERABLE"


def blob_store():
    return current_app.extensions["blob_store"]


def get_photo(photo_id: uuid.UUID, user: User) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None or not can_see(user, photo.report):
        raise NotFound("no such photo")
    return photo


def open_original(photo_id: uuid.UUID, user: User):
    """The exact stored bytes; the read is recorded in the custody chain first."""
    photo = get_photo(photo_id, user)
    path = blob_store().path_for(photo.sha256)
    if not path.exists():
        raise OriginalMissing(f"the original of photo {photo.id} is missing from storage")
    custody.append("original_read", "photo", photo.id, actor_id=user.id,
                   details={"sha256": photo.sha256, "role": user.role})
    db.session.commit()
    return photo, path


def derivative(photo_id: uuid.UUID, user: User, kind: str) -> Path:
    """Path of a metadata-stripped JPEG, made on first request and kept; 422 if the photo
    cannot be rendered."""
    photo = get_photo(photo_id, user)
    path, problem = _derivative_or_problem(photo, kind, actor_id=user.id)
    db.session.commit()  # a failed attempt read the original too: that stays recorded
    if problem is not None:
        message = f"the photo has no {kind}: {problem}"
        raise NotRenderable(f"photo_id: {message}", errors={"photo_id": [message]})
    return path


def ensure_derivative(photo: Photo, kind: str, actor_id=None) -> Path:
    """The derivative of a photo's original, made if missing, or a placeholder image if the
    photo cannot be rendered. Making one reads the original, so it is a custody event (in
    the caller's transaction) naming the derivative's hash."""
    path, problem = _derivative_or_problem(photo, kind, actor_id)
    return path if problem is None else _placeholder(kind)


def _derivative_or_problem(photo: Photo, kind: str, actor_id) -> tuple[Path | None, str | None]:
    target = blob_store().derivative_path(photo.sha256, kind)
    if target.exists():
        return target, None
    if photo.analysis_error:
        # The analysis found the pixels unreadable: the original is not read for nothing.
        return None, photo.analysis_error
    try:
        _make_derivative(photo.sha256, kind, target)
    except imaging.ImageDecodeError as exc:
        custody.append("original_read", "photo", photo.id, actor_id=actor_id, details={
            "sha256": photo.sha256, "purpose": f"{kind} attempted", "problem": str(exc)})
        return None, str(exc)
    custody.append("original_read", "photo", photo.id, actor_id=actor_id, details={
        "sha256": photo.sha256, "purpose": f"{kind} made",
        "derivative_sha256": sha256_of(target)})
    return target, None


def _placeholder(kind: str) -> Path:
    """One shared placeholder per kind of derivative, made on first use."""
    target = blob_store().placeholder_path(kind)
    if not target.exists():
        max_side = current_app.config[DERIVATIVE_SIZES[kind]]
        _write_atomically(target, kind, lambda temp: imaging.make_placeholder(temp, max_side))
    return target


def _make_derivative(sha256: str, kind: str, target: Path) -> None:
    store = blob_store()
    max_side = current_app.config[DERIVATIVE_SIZES[kind]]
    budget = current_app.config["FIELDAPP_MAX_PIXELS"]
    _write_atomically(target, kind, lambda temp: imaging.make_derivative(
        store.path_for(sha256), temp, max_side, max_pixels=budget))


def _write_atomically(target: Path, kind: str, write) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=blob_store().tmp_dir, prefix=f"{kind}-{os.getpid()}-",
                                suffix=".jpg")
    os.close(fd)
    try:
        write(temp)
        os.replace(temp, target)  # atomic: a reader sees the whole file or none
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def custody_events(photo_id: uuid.UUID, user: User) -> list[dict]:
    photo = get_photo(photo_id, user)
    return [event.as_chain_dict() for event in custody.events_for([photo.id])]


def list_photos(args: dict) -> tuple[list[Photo], int]:
    """Photos for staff, filtered by the decision in force and by their report; one page."""
    stmt = select(Photo).join(Report, Photo.report_id == Report.id)
    review = args["review"]
    if review == "pending":
        stmt = stmt.where(~select(Review.id).where(Review.photo_id == Photo.id).exists())
    elif review != "any":
        # The decision in force is the latest review, as Photo.review reads it.
        decision = (select(Review.decision).where(Review.photo_id == Photo.id)
                    .order_by(Review.created_at.desc(), Review.id.desc()).limit(1)
                    .correlate(Photo).scalar_subquery())
        stmt = stmt.where(decision == review)
    if args.get("verified") is not None:
        stmt = stmt.where(Photo.verified.is_(args["verified"]))
    if args.get("verdict"):
        stmt = stmt.where(Photo.verdict.in_(args["verdict"]))
    for name in ("category", "site_id"):
        if args.get(name) is not None:
            stmt = stmt.where(getattr(Report, name) == args[name])
    if args.get("volunteer"):
        stmt = stmt.where(Report.volunteer_id == select(User.id).where(
            User.pseudonym == args["volunteer"]).scalar_subquery())
    if args.get("observed_from"):
        stmt = stmt.where(Report.observed_at >= args["observed_from"])
    if args.get("observed_to"):
        stmt = stmt.where(Report.observed_at <= args["observed_to"])
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    order = [Photo.received_at.desc(), Photo.position, Photo.id]
    if args["order"] == "worst":
        severity = case({verdict: rank for rank, verdict in enumerate(VERDICTS)},
                        value=Photo.verdict, else_=-1)
        order.insert(0, severity.desc())
    page, size = args["page"], args["page_size"]
    items = db.session.scalars(
        stmt.order_by(*order).offset((page - 1) * size).limit(size)
        .options(selectinload(Photo.reviews),
                 selectinload(Photo.report).selectinload(Report.volunteer))
    ).all()
    return list(items), total
