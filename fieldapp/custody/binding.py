"""Digests of evidence rows, pure: what the chain binds of each row, and in what form.

The chain proves that its events were not rewritten, but a row it speaks of (a photo, a
report, a review, a dossier) lives in an ordinary table that the schema's owner or a
superuser can change without touching the chain. So the event that records a row's
creation carries a digest of the row's evidence-bearing fields (`row_sha256`), and an audit
recomputes the digest from the row as it stands: a row changed, deleted or slipped in
behind the app's back no longer matches any event.

The writers (ORM objects) and the audit (SQL rows) both hand these functions plain
mappings of field name to value, so the two cannot disagree on the form. The digest is
SHA-256 of the chain's canonical JSON of ``{"kind": kind, field: value, ...}``, where

- times are written in the chain's one textual form (UTC, microseconds, explicit offset),
  so a time read back from PostgreSQL in another zone gives the same text;
- floats are written as text, the shortest that reads back as the same double (Python's
  ``repr``), so the digest does not depend on how a JSON library prints numbers;
- UUIDs are hyphenated lowercase text (PostgreSQL's own form, as psycopg2 returns them);
- bytes (a dossier's manifest, signature, key) enter as the hex SHA-256 of their content,
  which keeps the JSON small and still binds every byte;
- a list (a JSON array column) is a list of its elements in those forms.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime

from fieldapp.custody import chain

# Each kind's evidence-bearing fields. Fields that a workflow legitimately changes (a site
# link, a verdict, analysis results) are left out; so is the column naming the binding
# event itself (a photo's receipt_hash, a review's or dossier's custody_hash), which cannot
# be inside the digest that event carries and is checked against the event instead.
FIELDS: dict[str, tuple[str, ...]] = {
    # lon, lat, srid: the stored WGS-84 point; claim_*: the claim exactly as sent.
    "report": ("id", "client_id", "volunteer_id", "observed_at", "received_at", "claim_lon",
               "claim_lat", "claim_crs", "accuracy_m", "lon", "lat", "srid", "category",
               "description"),
    "photo": ("id", "report_id", "position", "sha256", "size", "media_type", "received_at"),
    "review": ("id", "photo_id", "reviewer_id", "decision", "reason", "created_at"),
    "dossier": ("id", "case_id", "number", "label", "created_by", "created_at", "manifest",
                "manifest_sha256", "signature", "public_key_pem", "catalog_sha256",
                "custody_sha256", "item_count", "total_bytes"),
    # What was filed and when its answers are due; its status columns move with updates.
    "complaint": ("id", "site_id", "channel", "number", "authority", "summary", "filed_at",
                  "report_ids", "filed_by", "created_at", "accept_due_at", "result_due_at"),
    "complaint_update": ("id", "complaint_id", "kind", "occurred_at", "reply_text", "outcome",
                         "penalty_number", "extension_days", "reason", "recorded_by",
                         "created_at", "report_ids"),
}
KINDS = tuple(FIELDS)
# Fields added to a kind after rows of it were bound: in the digest only when not null, so a
# row bound before the field existed (null there) digests as it did, and one that has it
# set, or has it cleared, no longer matches.
ADDED_LATER: dict[str, frozenset[str]] = {"complaint_update": frozenset({"report_ids"})}
# Numbers that are doubles in the database: written as floats even if an int came in
# (a claim of accuracy 12 and the stored 12.0 must digest alike).
FLOAT_FIELDS = frozenset({"claim_lon", "claim_lat", "accuracy_m", "lon", "lat"})


def canonical_value(name: str, value):
    """One field's value in the form the digest hashes."""
    if value is None:
        return None
    if name in FLOAT_FIELDS:
        return repr(float(value))
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        return chain.format_time(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, list | tuple):
        # A JSON array column (a complaint's cited report ids), element by element.
        return [canonical_value(name, element) for element in value]
    raise TypeError(f"{name}: no canonical form for {type(value).__name__}")


def canonical_row(kind: str, values: Mapping) -> dict:
    """The row's evidence-bearing fields as plain JSON values (KeyError if one is missing)."""
    later = ADDED_LATER.get(kind, frozenset())
    return {"kind": kind, **{name: canonical_value(name, values[name])
                             for name in FIELDS[kind]
                             if name not in later or values[name] is not None}}


def row_digest(kind: str, values: Mapping) -> str:
    """The hex SHA-256 that a row's binding custody event carries as `row_sha256`."""
    return hashlib.sha256(chain.canonical_json(canonical_row(kind, values))).hexdigest()


def legacy_mismatch(kind: str, details: Mapping, occurred_at: datetime,
                    values: Mapping) -> str | None:
    """What of a row disagrees with the creation event written before rows were bound.

    Such an event recorded some of the row's fields; a row that still agrees with them is
    bound as it stands, one that does not is left unbound (and so reported).
    """
    def differs(field: str, recorded, current) -> str | None:
        return None if recorded == current else f"{field} differs from the event"

    if kind == "report":
        return differs("client_id", str(details.get("client_id")).lower(),
                       str(values["client_id"]).lower())
    if kind == "photo":
        for field in ("sha256", "size", "media_type", "position"):
            if details.get(field) != values[field]:
                return f"{field} differs from the event"
        return differs("report_id", str(details.get("report_id")).lower(),
                       str(values["report_id"]).lower())
    if kind == "review":
        # The service stored the reason stripped and the decision's time as the event's.
        return (differs("decision", details.get("decision"), values["decision"])
                or differs("reason", (details.get("reason") or "").strip(), values["reason"])
                or differs("created_at", chain.format_time(occurred_at),
                           chain.format_time(values["created_at"])))
    if kind == "dossier":
        manifest_sha = hashlib.sha256(bytes(values["manifest"])).hexdigest()
        return (differs("manifest_sha256", details.get("manifest_sha256"),
                        values["manifest_sha256"])
                or differs("manifest", values["manifest_sha256"], manifest_sha))
    # A kind born bound has no creation event from before binding: such an event is forged.
    return f"a {kind} is bound when it is made, never afterwards"


def frozen_items(manifest: bytes) -> list[dict]:
    """The evidence items a dossier's signed manifest froze: number, photo_id, sha256.

    An unreadable manifest gives no items; the dossier's own digest reports it altered.
    """
    try:
        items = json.loads(bytes(manifest))["items"]
        return [{"number": item["number"], "photo_id": str(item["photo_id"]).lower(),
                 "sha256": item["sha256"]} for item in items]
    except (ValueError, KeyError, TypeError):
        return []
