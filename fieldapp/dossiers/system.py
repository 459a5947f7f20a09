"""The facts a court weighs about the system that held the evidence (SPC Evidence Provisions
Art. 93): software and versions, the monitoring in place and its last results, and who handled
each item. Read from the running system when a dossier is frozen, never written by hand.
"""
from __future__ import annotations

import platform
import ssl

from flask import current_app
from sqlalchemy import select, text

from fieldapp import __version__
from fieldapp.accounts.models import User
from fieldapp.anchors.models import Anchor
from fieldapp.custody.models import CustodyEvent
from fieldapp.extensions import db


def environment() -> dict:
    """Versions of everything that received, kept and checked the evidence."""
    try:
        system = platform.freedesktop_os_release().get("PRETTY_NAME")
    except OSError:
        system = None
    return {
        "fieldapp": __version__,
        "python": platform.python_version(),
        "postgresql": db.session.scalar(text("SHOW server_version")),
        "postgis": db.session.scalar(text("SELECT postgis_lib_version()")),
        "os": f"{system or platform.system()} (kernel {platform.release()})",
        "openssl": ssl.OPENSSL_VERSION,
    }


def monitoring(tsa_urls: list[str]) -> dict:
    """The audits and anchors watching the chain, with the newest result of each."""
    audit = db.session.scalar(select(CustodyEvent).where(CustodyEvent.action == "audited")
                              .order_by(CustodyEvent.seq.desc()).limit(1))
    anchor = db.session.scalar(select(Anchor).order_by(Anchor.seq.desc(), Anchor.id.desc())
                               .limit(1))
    config = current_app.config
    return {
        "audit": ("fieldapp custody verify walks the whole chain, recomputes every link and "
                  "binding and re-hashes every stored original; each run is a custody event"),
        "audit_interval_s": config.get("FIELDAPP_AUDIT_INTERVAL_S"),
        "last_audit": {"at": audit.occurred_at.isoformat(), "custody_seq": audit.seq,
                       "result": audit.details} if audit else None,
        "anchor_interval_s": config.get("FIELDAPP_ANCHOR_INTERVAL_S"),
        "tsa": list(tsa_urls),
        "last_anchor": {"custody_seq": anchor.seq, "tsa": anchor.tsa_url,
                        "gen_time": anchor.gen_time.isoformat()} if anchor else None,
    }


def handlers(items) -> dict[str, list[dict]]:
    """Per photo id: who acted on the photo or its report, by role and pseudonym (never an
    email or a name), with what they did; the server itself appears as "system"."""
    subjects = {}
    for item in items:
        subjects[item.photo_id] = str(item.photo_id)
        subjects[item.photo.report_id] = str(item.photo_id)
    events = db.session.execute(
        select(CustodyEvent.subject_id, CustodyEvent.actor_id, CustodyEvent.action)
        .where(CustodyEvent.subject_id.in_(list(subjects))).order_by(CustodyEvent.seq)).all()
    actors = {user.id: user for user in db.session.scalars(select(User).where(
        User.id.in_({event.actor_id for event in events if event.actor_id})))}
    found: dict[str, dict] = {photo_id: {} for photo_id in subjects.values()}
    for event in events:
        user = actors.get(event.actor_id)
        key = (user.role, user.pseudonym) if user else ("system", None)
        entry = found[subjects[event.subject_id]].setdefault(
            key, {"role": key[0], "pseudonym": key[1], "actions": []})
        if event.action not in entry["actions"]:
            entry["actions"].append(event.action)
    return {photo_id: list(entries.values()) for photo_id, entries in found.items()}
