"""The dossier manifest, built from plain values (no Flask, no database)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fieldapp import __version__
from fieldapp.evidence import media
from fieldapp.storage import chunks

FORMAT = "fieldapp-dossier/1"

# What the system does and does not guarantee, in words a court can hold the NGO to. Each
# sentence must stay true of the deployed system: the roles are migration 0005's.
SYSTEM_DESCRIPTION = (
    "fieldapp receives each photo over HTTPS as a multipart upload from the volunteer's app "
    "and streams it to disk while computing its SHA-256; the file is fsynced and hard-linked "
    "into a content-addressed store under its hash, read-only, and the application has no "
    "code path that modifies or deletes it. On receipt the server reads the photo's EXIF "
    "metadata and checks it against the volunteer's claim (place, time, device, editing "
    "software, duplicates); the pixels are analysed afterwards (perceptual hash, embedded "
    "thumbnail). Every step - receipt, verification, each read of an original, each review "
    "decision, each export, each audit - is appended to a custody chain in PostgreSQL whose "
    "entries are linked by SHA-256(previous hash + canonical JSON of the event), and each "
    "evidence row's content is bound into its event by a digest. The server runs as a "
    "database role that may append custody events, photos, reports, reviews and dossiers "
    "but may not change or delete custody events, reviews, dossiers or time-stamp anchors, "
    "delete photos or reports, or rewrite a photo's hash or a report's time, place, "
    "volunteer or client id. The database's owner or a superuser could still change any "
    "row; that is why the chain links every event to the one before it, binds each evidence "
    "row to its event, is re-checked by scheduled audits (which also re-hash every stored "
    "original), and has its head time-stamped by independent RFC 3161 time-stamping "
    "authorities, so that a change made behind the application's back is detected and "
    "cannot be back-dated before a time-stamp. Volunteers appear only under pseudonyms. This "
    "manifest lists the SHA-256 of every file in the dossier and the SHA-256 and SM3 of "
    "every original, and is signed with the server's Ed25519 key; custody.jsonl carries the "
    "custody events needed to recompute each link from every item's receipt to the "
    "time-stamp that covers it."
)

RECEIPT_DESCRIPTION = (
    "Photos arrive over HTTPS from the volunteer's phone as the bytes the phone sent; each "
    "is typed by its content (JPEG, HEIC/HEIF, PNG, TIFF), refused if it is not whole, "
    "stored once under its SHA-256 and never altered. Checks compare its EXIF reading with "
    "the volunteer's claim and are recorded, with their digest, in the custody event of "
    "its receipt; coordinators' review decisions are kept, every one, as custody events."
)

LIMITS = (
    "This dossier shows that each original is byte for byte the file the server received, "
    "when it was received (bounded by the RFC 3161 time-stamp that covers its receipt, "
    "where there is one), what its metadata says, how that compares with the volunteer's "
    "claim, and every recorded step taken with it since. It does not show that the scene "
    "was photographed where and when the metadata or the volunteer say: EXIF metadata can "
    "be written by anyone before upload, and the checks only find contradictions. Before "
    "receipt the photo was in the volunteer's hands. Times before a time-stamp rest on the "
    "server's clock; a change made by the database's owner or a superuser is detectable "
    "by the chain, its bindings, the audits and the time-stamps, not prevented."
)

NO_TIMESTAMPS = (
    "No time-stamping authority was configured when this dossier was frozen, so it carries "
    "no RFC 3161 time-stamps: every time in it rests on the server's own clock."
)


COMPLAINTS_DESCRIPTION = (
    "Complaints about this site filed with the authorities, as the NGO recorded them when "
    "this dossier was frozen: channel, number, authority, filing time, the reports cited, "
    "the deadlines (acceptance decided and a result given within so many calendar days of "
    "the day of filing, Beijing time, the result deadline moved by any extension the "
    "authority stated), and each dated update of what the authority did. Each filing and "
    "each update is a custody event binding its content (custody_hash); custody.jsonl "
    "carries them. \"lapsed\" means the deadline passed with no answer recorded."
)


def complaints_block(history: list[dict]) -> dict:
    """The site's complaint history (complaints.service.history) with what it means."""
    return {"description": COMPLAINTS_DESCRIPTION, "entries": history}


def timestamping_statement(tsa_urls: list[str], uncovered: list[int]) -> str:
    """What the dossier's time-stamps cover: tsa_urls are the authorities of its tokens,
    uncovered the numbers of items whose receipt no token covers."""
    if not tsa_urls:
        return NO_TIMESTAMPS
    covered = ("Every item's receipt is covered" if not uncovered else
               "Every item's receipt except items " + ", ".join(map(str, uncovered))
               + " (no time-stamping authority was configured to cover them) is covered")
    return (covered + " by an RFC 3161 time-stamp (timestamps/*.tsr, the authorities' "
            "responses as received) over the hash of a later custody event, from: "
            + ", ".join(tsa_urls) + ". Check each with openssl ts -verify -digest "
            "<custody_hash> -in <file> -CAfile <the authority's root certificate>.")


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


def system_block(environment: dict, monitoring: dict, timestamping: str) -> dict:
    """The system description: software and versions, how evidence is kept, what is watched,
    and what the dossier cannot prove (the factors of SPC Evidence Provisions Art. 93)."""
    return {"software": f"fieldapp {__version__}", "description": SYSTEM_DESCRIPTION,
            "environment": environment, "receipt": RECEIPT_DESCRIPTION,
            "monitoring": monitoring, "timestamping": timestamping,
            "limits": LIMITS, "hash": "SHA-256",
            "sm3": "SM3 (GB/T 32905-2016) of each original, beside its SHA-256",
            "signature": "Ed25519 over the bytes of manifest.json"}


def sm3_of(path: str | Path) -> str:
    """The SM3 digest (hex) of a file, which Chinese judicial deposit platforms take.

    Raises RuntimeError when the OpenSSL under Python has no SM3: a dossier must not be
    frozen without it.
    """
    try:
        digest = hashlib.new("sm3")
    except ValueError as err:
        raise RuntimeError("SM3 is not available from this system's OpenSSL (hashlib.new('sm3')"
                           " failed); dossiers need it") from err
    for block in chunks.from_path(path):
        digest.update(block)
    return digest.hexdigest()


def timestamp_file(seq: int, anchor_id: int) -> str:
    """Where a token lies in the dossier: by the custody event it anchors."""
    return f"timestamps/{seq:08d}-{anchor_id}.tsr"
