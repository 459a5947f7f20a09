"""Cases, their timelines, and numbered evidence items."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import JSONB

from fieldapp.accounts.models import User
from fieldapp.cases.models import Case, CaseEntry, EvidenceItem
from fieldapp.dossiers.models import Dossier
from fieldapp.errors import Conflict, NotFound, field_error
from fieldapp.extensions import db
from fieldapp.hotspots import indexing
from fieldapp.photos.service import get_photo
from fieldapp.sites.service import get_site


def create_case(data: dict, user: User) -> Case:
    try:
        get_site(data["site_id"])
    except NotFound:
        raise field_error("site_id", "no such site") from None
    case = Case(site_id=data["site_id"], title=data["title"],
                authority=data.get("authority"), case_number=data.get("case_number"),
                legal_status=data["legal_status"], created_by=user.id)
    db.session.add(case)
    db.session.flush()
    for entry in data.get("timeline", ()):
        db.session.add(CaseEntry(case_id=case.id, **entry))
    indexing.refresh_site_risk(case.site_id)
    db.session.commit()
    return case


def get_case(case_id: uuid.UUID) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("no such case")
    return case


def list_cases(args: dict) -> list[Case]:
    stmt = select(Case).order_by(Case.created_at.desc())
    for name in ("site_id", "legal_status"):
        if args.get(name):
            stmt = stmt.where(getattr(Case, name) == args[name])
    return list(db.session.scalars(stmt))


def update_case(case_id: uuid.UUID, changes: dict) -> Case:
    case = get_case(case_id)
    new_status = changes.get("legal_status")
    if new_status and new_status != case.legal_status:
        # A change of legal status is part of the case's story: note it on the timeline.
        db.session.add(CaseEntry(case_id=case.id, happened_on=func.current_date(),
                                 text=f"legal status: {case.legal_status} → {new_status}"))
    for name, value in changes.items():
        setattr(case, name, value)
    db.session.flush()
    indexing.refresh_site_risk(case.site_id)
    db.session.commit()
    db.session.refresh(case)
    return case


def add_entry(case_id: uuid.UUID, entry: dict) -> Case:
    case = get_case(case_id)
    db.session.add(CaseEntry(case_id=case.id, **entry))
    db.session.commit()
    db.session.refresh(case)
    return case


def add_item(case_id: uuid.UUID, data: dict, user: User) -> EvidenceItem:
    case = get_case(case_id)
    try:
        photo = get_photo(data["photo_id"], user)
    except NotFound:
        raise field_error("photo_id", "no such photo") from None
    review = photo.review
    if review and review.decision == "rejected" and not data["include_rejected"]:
        raise field_error("photo_id", "this photo was rejected in review; set include_rejected "
                          "to include it on purpose", sub_code="PHOTO_REJECTED")
    if any(item.photo_id == photo.id for item in case.items):
        raise Conflict("this photo is already an item of the case",
                       errors={"photo_id": ["already an item of this case"]})
    item = EvidenceItem(case_id=case.id, photo_id=photo.id, position=len(case.items),
                        title=data["title"], purpose=data["purpose"],
                        include_rejected=data["include_rejected"])
    db.session.add(item)
    db.session.commit()
    return item


def reorder_items(case_id: uuid.UUID, item_ids: list[uuid.UUID]) -> list[EvidenceItem]:
    case = get_case(case_id)
    current = {item.id: item for item in case.items}
    if len(item_ids) != len(set(item_ids)) or set(item_ids) != set(current):
        raise field_error("item_ids", "must list every item of the case exactly once")
    _renumber([current[item_id] for item_id in item_ids])
    db.session.commit()
    return sorted(current.values(), key=lambda item: item.position)


def remove_item(case_id: uuid.UUID, item_id: uuid.UUID) -> None:
    """Take an item off the case (the photo and any frozen dossier stay as they are)."""
    case = get_case(case_id)
    item = next((i for i in case.items if i.id == item_id), None)
    if item is None:
        raise NotFound("no such item in this case")
    frozen_in = _dossier_freezing(item)
    if frozen_in is not None:
        # A dossier's signed manifest lists its items; the custody audit checks that each
        # still stands, so an item handed over in a dossier stays.
        raise Conflict(f"this item was frozen into dossier {frozen_in} and stays in the case",
                       errors={"item_id": [f"frozen into dossier {frozen_in}"]},
                       sub_code="ITEM_FROZEN")
    remaining = [i for i in case.items if i.id != item_id]
    db.session.delete(item)
    db.session.flush()
    _renumber(remaining)
    db.session.commit()


def _dossier_freezing(item: EvidenceItem) -> str | None:
    """The label of the first dossier whose manifest froze this item, if any."""
    frozen = func.convert_from(Dossier.manifest, "UTF8").cast(JSONB)["items"]
    return db.session.scalar(
        select(Dossier.label).where(Dossier.case_id == item.case_id,
                                    frozen.contains([{"photo_id": str(item.photo_id)}]))
        .order_by(Dossier.number).limit(1))


def _renumber(items: list[EvidenceItem]) -> None:
    # Positions are not unique-constrained, so a shuffle can be written in one pass.
    for position, item in enumerate(items):
        item.position = position
