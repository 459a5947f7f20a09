"""The dossier manifest, built from plain values (no Flask, no database)."""
from __future__ import annotations

import json

from fieldapp import __version__
from fieldapp.evidence import media

FORMAT = "fieldapp-dossier/1"

SYSTEM_DESCRIPTION = (
    "fieldapp receives each photo over HTTPS as a multipart upload from the volunteer's app "
    "and streams it to disk while computing its SHA-256; the file is fsynced and hard-linked "
    "into a content-addressed store under its hash, read-only, and is never modified or "
    "deleted by the application. On receipt the server reads the photo's EXIF metadata "
    "(exifread, with Pillow as a second reader) and checks it against the volunteer's claim "
    "(place, time, device, editing software, duplicates). Every step - receipt, "
    "verification, each read of an original, each review decision, each export - is "
    "appended to a custody chain in PostgreSQL whose entries are linked by "
    "SHA-256(previous hash + canonical JSON of the event); database triggers refuse any "
    "change or deletion of the chain. Volunteers appear only under pseudonyms. This manifest "
    "lists the SHA-256 of every file in the dossier and is signed with the server's Ed25519 "
    "key; custody.jsonl carries the custody events of every item so each link can be "
    "recomputed."
)


def item_paths(number: int, sha256: str, media_type: str) -> tuple[str, str]:
    """(original, preview) paths of an item inside the dossier folder."""
    return (f"originals/{number:03d}-{sha256[:8]}{media.suffix(media_type)}",
            f"previews/{number:03d}.jpg")


def exif_summary(exif: dict) -> dict:
    keys = ("make", "model", "software", "datetime_original", "offset_time_original",
            "datetime", "gps", "width", "height")
    return {key: exif.get(key) for key in keys}


def manifest_bytes(manifest: dict) -> bytes:
    """The exact bytes that are signed and shipped (readable, stable key order)."""
    return json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def system_block() -> dict:
    return {"software": f"fieldapp {__version__}", "description": SYSTEM_DESCRIPTION,
            "hash": "SHA-256", "signature": "Ed25519 over the bytes of manifest.json"}
