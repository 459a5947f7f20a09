#!/usr/bin/env python3
"""Check a fieldapp evidence dossier independently of the server that made it.

A dossier is a ZIP with one top folder holding the original photos byte for byte
(``originals/``), metadata-free previews (``previews/``), the evidence catalog
(``catalog.pdf``), the custody events of every item (``custody.jsonl``), a manifest describing
all of it (``manifest.json``), the server's Ed25519 signature over the manifest's exact bytes
(``manifest.sig``), the server's public key (``public_key.pem``) and ``SHA256SUMS``.

This file stands alone: it needs Python 3.9 or later and the ``cryptography`` package; the
RFC 3161 time-stamps are read with ``rfc3161-client`` when it is installed, else with the
``openssl`` command (``openssl ts -reply -text``, and ``openssl ts -verify`` given
``--tsa-ca``)::

    pip install cryptography rfc3161-client
    python verify.py DOSSIER.zip                     # prints "OK: ..." or "PROBLEM: ..." lines
    python verify.py DOSSIER.zip --key KEY.pem       # also require this exact public key
    python verify.py DOSSIER.zip --tsa-ca ROOT.pem   # and time-stamps signed under this root

Exit status: 0 when every check passes, 1 when any problem is found, 2 on a usage error or a
file that cannot be read as a ZIP. From Python::

    from verify import verify_dossier
    result = verify_dossier("D-2026-0003.zip", expected_key_pem=None)
    result.ok, result.problems, result.summary

Checks (every problem is reported, naming the file, line or item concerned):

1. ZIP layout: the file opens as a ZIP; every entry lies under exactly one top folder; entries
   with absolute paths, ``..``, backslashes or symbolic links are refused and reported, as are
   names that occur twice, or named otherwise for another reader (by a local header, or an
   Info-ZIP Unicode Path field, which unzip prefers); every byte belongs to an entry of the
   central directory (nothing hidden between the entries for a reader that unpacks as a
   stream), with no comment; folder entries hold nothing and hold files of the dossier; the
   required files are present; the top folder is the dossier's label in the manifest.
2. Signature: ``manifest.sig`` is a 64-byte Ed25519 signature over the exact bytes of
   ``manifest.json`` that verifies with ``public_key.pem``; with ``--key`` the key must also be
   the expected one. The summary gives the key's fingerprint, ``SHA256:`` + the SHA-256 of its
   DER SubjectPublicKeyInfo, to compare with the one the NGO publishes, and says so when no
   ``--key`` was given (a dossier re-signed with anyone's key is whole too).
3. Manifest: UTF-8 JSON (no duplicate keys), format ``fieldapp-dossier/1``, well-formed items,
   files and custody sections.
4. Contents: each item's original exists with the manifest's SHA-256, size and SM3 (when
   stated; with the SM3 of ``cryptography``'s OpenSSL, else the summary says so) (and is named
   ``originals/NNN-<first 8 hex of its SHA-256>...``); each preview exists and is listed under
   ``files``; each file under ``files`` exists with that SHA-256; ``catalog.pdf`` and the
   custody file are listed there; no file is present that the signed manifest does not cover.
5. ``SHA256SUMS``: every line is well formed and its hash matches its file; every file except
   ``SHA256SUMS`` itself is listed.
6. Custody: each line of ``custody.jsonl`` is a JSON event with exactly the ten event fields
   (none outside the hash) whose ``hash`` re-computes (rule below); seq strictly increases;
   where one line's seq follows the previous line's by one, its ``prev_hash`` is that line's
   ``hash`` (event #1 starts from 64 zeros); the line count equals the manifest's
   ``custody.events``; the last seq is at most ``custody.head_seq`` (and, if it is the head, its
   hash is ``custody.head_hash``); each item's photo has exactly one intact "received" event,
   whose ``details.sha256`` is the item's SHA-256 and whose seq, hash and time are the item's
   ``receipt_seq``, ``receipt_hash`` and ``received_at``.
7. Time-stamps: each entry of the manifest's ``timestamps`` names a listed ``timestamps/*.tsr``
   file holding a granted RFC 3161 TimeStampResp whose SHA-256 message imprint is the entry's
   ``custody_hash`` and whose time is its ``gen_time``; custody.jsonl holds that event, intact,
   at ``custody_seq``; with ``--tsa-ca`` the token's signature and certificate chain verify to
   that root (timeStamping key usage). Each item names the tokens covering its receipt: each
   is at or after the item's "received" event, and custody.jsonl holds every event from the
   receipt to it, so the chain can be walked from the photo to the authority's time.
Large dossiers are fine: files are hashed in chunks straight from the ZIP, never unpacked.

The same facts can be checked with ordinary tools after ``unzip``, inside the folder::

    openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin \\
        -in manifest.json -sigfile manifest.sig
    openssl pkey -pubin -in public_key.pem -outform DER | sha256sum    # the key fingerprint
    python3 -c 'import json; m = json.load(open("manifest.json"))
    for i in m["items"]: print(i["sha256"] + "  " + i["original"])
    for f, h in m["files"].items(): print(h + "  " + f)' | sha256sum -c
    openssl ts -verify -digest <custody_hash> -in timestamps/<file>.tsr -CAfile <TSA root>

and each custody event's hash is the lowercase hex SHA-256 of the UTF-8 bytes of
``prev_hash + canonical JSON`` of the event's fields other than ``prev_hash`` and ``hash``,
where canonical JSON means keys sorted, no spaces (separators "," and ":"), non-ASCII kept.
``sha256sum -c SHA256SUMS`` alone proves little: SHA256SUMS is not signed, so whoever swaps a
photo can rewrite it; the manifest's hashes are what the signature covers.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

try:  # optional: without it, tokens are checked with the openssl command
    import rfc3161_client
except ImportError:  # pragma: no cover - depends on the reader's machine
    rfc3161_client = None

FORMAT = "fieldapp-dossier/1"

# The custody chain rule, identical to the server's (fieldapp/custody/chain.py).
GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq", "id", "occurred_at", "actor_id", "action", "subject_type", "subject_id", "details",
)
EVENT_FIELDS = (*HASHED_FIELDS, "prev_hash", "hash")

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
SUMS = "SHA256SUMS"
CATALOG = "catalog.pdf"
DEFAULT_CUSTODY = "custody.jsonl"
# Files the signed manifest cannot list: itself, its signature, the key, and the sums of all.
UNLISTED_PARTS = (MANIFEST, SIGNATURE, PUBLIC_KEY, SUMS)
REQUIRED = (*UNLISTED_PARTS, CATALOG, DEFAULT_CUSTODY)

CHUNK = 1 << 20
# Caps on what is read whole into memory, so a hostile ZIP cannot exhaust it.
SMALL_FILE_LIMIT = 64 << 20
KEY_FILE_LIMIT = 64 << 10
TOKEN_LIMIT = 1 << 20
SHA256_OID = "2.16.840.1.101.3.4.2.1"
LINE_LIMIT = 16 << 20

HEX64 = re.compile(r"[0-9a-fA-F]{64}")
SUMS_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
DRIVE_PREFIX = re.compile(r"[A-Za-z]:")


@dataclass
class Result:
    """The outcome of verify_dossier: ok when no problem was found."""

    problems: list[str]
    summary: str
    readable: bool = True

    @property
    def ok(self) -> bool:
        return self.readable and not self.problems


# --- the chain rule --------------------------------------------------------------------------

def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, event: dict) -> str:
    body = {name: event[name] for name in HASHED_FIELDS}
    return hashlib.sha256(prev_hash.encode() + canonical_json(body)).hexdigest()


# --- small helpers ---------------------------------------------------------------------------

def _strict_object(pairs):
    # Duplicate keys would let two JSON readers see two different documents under one hash.
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name):
    raise ValueError(f"non-standard JSON value {name}")


def _parse_json(text: str):
    try:
        return json.loads(text, object_pairs_hook=_strict_object,
                          parse_constant=_reject_constant)
    except RecursionError:
        # A few bytes of "[[[[" would otherwise end the check in a traceback.
        raise ValueError("nested too deeply") from None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_count(value) -> bool:
    return _is_int(value) and value >= 0


def _is_sha256(value) -> bool:
    return isinstance(value, str) and HEX64.fullmatch(value) is not None


def _is_text(value) -> bool:
    return isinstance(value, str) and value != ""


def _unsafe_path_reason(path: str) -> str | None:
    """Why a path could escape the dossier folder when unpacked, or None if it cannot."""
    if path.startswith("/") or DRIVE_PREFIX.match(path):
        return "absolute path"
    if "\\" in path:
        return "backslash in path"
    if ".." in path.split("/"):
        return "path goes up with '..'"
    return None


def _is_relative_path(value) -> bool:
    return _is_text(value) and _unsafe_path_reason(value) is None


def _malformed(obj, fields: dict, where: str) -> list[str]:
    """Problems with the named fields of a manifest section (each checked by its predicate)."""
    if not isinstance(obj, dict):
        return [f"{where} is missing or not a JSON object"]
    return [f"{where}: {name!r} is missing or malformed"
            for name, valid in fields.items() if not valid(obj.get(name))]


def _printable(text: str) -> str:
    """text with every control or format character escaped (\\n, \\x1b, \\u202e...).

    Names and values come from the dossier: a newline in one would print an "OK:" line of
    its own among the problems, a terminal escape could erase lines, a right-to-left
    override could show a name backwards."""
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode()
                   for char in text)


def _key_fingerprint(key: Ed25519PublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + hashlib.sha256(der).hexdigest()


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    """An Ed25519 public key from SubjectPublicKeyInfo PEM; ValueError if it is not one."""
    if isinstance(pem, str):
        pem = pem.encode()
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as err:
        raise ValueError(f"not a PEM public key ({err})") from err
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


# --- the report being built ------------------------------------------------------------------

@dataclass
class _Report:
    problems: list[str] = field(default_factory=list)
    label: str = "?"
    items: int = 0
    originals: int = 0
    events: int = 0
    fingerprint: str | None = None
    signature_ok: bool = False
    timestamps: int = 0
    tokens_signed: int = 0
    tokens_note: str = ""
    uncovered: list = field(default_factory=list)
    sm3_unchecked: bool = False
    key_pinned: bool = False

    def problem(self, message: str) -> None:
        self.problems.append(_printable(message))

    def summary(self) -> str:
        if self.fingerprint is None:
            signed = "no usable public key"
        elif self.signature_ok and self.key_pinned:
            signed = f"signature by the expected key {self.fingerprint}"
        elif self.signature_ok:
            # Anyone can sign a dossier with a key of their own: an OK says only that it is
            # whole, until the key is the NGO's.
            signed = (f"signature by key {self.fingerprint} (not compared with the NGO's "
                      "published key: use --key)")
        else:
            signed = f"signature INVALID (key {self.fingerprint})"
        stamps = f"{self.timestamps} time-stamps"
        if self.tokens_note:
            stamps += f" ({self.tokens_note})"
        if self.uncovered and self.timestamps:
            stamps += f", item(s) {', '.join(map(str, self.uncovered))} not time-stamped"
        originals = f"{self.originals} originals"
        if self.sm3_unchecked:
            originals += " (SM3 not checked: this OpenSSL has no SM3)"
        return _printable(f"{self.label}: {self.items} items, {originals}, "
                          f"{self.events} custody events, {stamps}, {signed}")


# --- the archive -----------------------------------------------------------------------------

class _Archive:
    """The files under the dossier's top folder, each hashed at most once, straight from the ZIP."""

    def __init__(self, zf: zipfile.ZipFile, top: str, files: dict, report: _Report):
        self.zf, self.top, self.files, self.report = zf, top, files, report
        self._digests: dict[str, tuple[str, int] | None] = {}
        self._sm3: dict[str, str | None] = {}

    def has(self, path: str) -> bool:
        return path in self.files

    def open(self, path: str):
        return self.zf.open(self.files[path])

    def digest(self, path: str) -> tuple[str, int] | None:
        """(SHA-256 hex, size) of a present file, or None if it cannot be read (reported)."""
        if path not in self._digests:
            self._digests[path] = self._hash(path)
        return self._digests[path]

    def sm3(self, path: str) -> str | None:
        """The SM3 hex of a present file (hashed with its SHA-256 in one reading), or None if
        it cannot be read or this cryptography has no SM3."""
        if path not in self._sm3:
            self._digests[path] = self._hash(path, with_sm3=True)
        return self._sm3.get(path)

    def read_small(self, path: str, limit: int = SMALL_FILE_LIMIT) -> bytes | None:
        """A present file's bytes, or None if it is absent, too large or unreadable."""
        if not self.has(path):
            return None
        if self.files[path].file_size > limit:
            self.report.problem(f"{path}: too large ({self.files[path].file_size} bytes)")
            return None
        try:
            with self.open(path) as stream:
                data = stream.read()
        except Exception as err:  # any decoding failure is a finding, not a crash
            self._unreadable(path, err)
            return None
        self._digests[path] = (hashlib.sha256(data).hexdigest(), len(data))
        return data

    def _hash(self, path: str, with_sm3: bool = False) -> tuple[str, int] | None:
        digest, size = hashlib.sha256(), 0
        sm3 = _new_sm3() if with_sm3 else None
        try:
            with self.open(path) as stream:
                for chunk in iter(lambda: stream.read(CHUNK), b""):
                    digest.update(chunk)
                    if sm3 is not None:
                        sm3.update(chunk)
                    size += len(chunk)
        except Exception as err:  # a corrupt entry (bad CRC, bad deflate...) is a finding
            self._unreadable(path, err)
            return None
        if with_sm3:
            self._sm3[path] = sm3.finalize().hex() if sm3 is not None else None
        return digest.hexdigest(), size

    def _unreadable(self, path: str, err: Exception) -> None:
        self._digests[path] = None
        self._sm3[path] = None
        self.report.problem(f"{path}: cannot be read from the ZIP ({err})")


def _new_sm3():
    """An SM3 hash from cryptography, or None where its OpenSSL has none (then the summary
    says SM3 was not checked)."""
    try:
        return hashes.Hash(hashes.SM3())
    except UnsupportedAlgorithm:
        return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _safe_entries(zf: zipfile.ZipFile, report: _Report) -> dict[str, zipfile.ZipInfo]:
    """Every entry that is safe to unpack, by name; the others are refused and reported."""
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        reason = _unsafe_path_reason(name) or ("symbolic link" if _is_symlink(info) else None)
        renamed = _unicode_path(info.extra)
        if not reason and renamed is not None and renamed != name:
            reason = f"its Unicode Path field names it {renamed!r}"
        if reason:
            report.problem(f"ZIP entry {name!r} refused: {reason}")
            continue
        if name in entries:
            report.problem(f"ZIP entry {name!r} occurs more than once (ambiguous)")
        entries[name] = info
    return entries


def _top_folder(entries: dict, report: _Report) -> str | None:
    """The one top folder; if there are several, the one holding the manifest, if unique."""
    tops = sorted({name.split("/", 1)[0] for name in entries if "/" in name})
    loose = sorted(name for name in entries if "/" not in name)
    if len(tops) == 1 and not loose:
        return tops[0]
    found = ", ".join([f"{top}/" for top in tops] + loose) or "nothing"
    report.problem(f"ZIP must hold exactly one top folder; found: {found}")
    holding_manifest = [top for top in tops if f"{top}/{MANIFEST}" in entries]
    return holding_manifest[0] if len(holding_manifest) == 1 else None


LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature ... name length, extra length
END_RECORD_SIZE = 22


def _check_layout(zf: zipfile.ZipFile, report: _Report) -> None:
    """Every byte of the ZIP belongs to an entry of its central directory, or to the directory
    and its end record.

    zipfile (like unzip) reads the central directory; a reader that unpacks the ZIP as a
    stream reads the local headers in order and would unpack an entry hidden between them
    (a forged photo, under an original's name) instead of the one checked here. A genuine
    dossier's entries follow one another from byte 0 to the directory, and nothing follows
    the end record."""
    position = 0
    for info in sorted(zf.infolist(), key=lambda info: info.header_offset):
        if info.header_offset != position:
            _unaccounted(position, info.header_offset, report)
        position = max(position, _entry_end(zf.fp, info, report))
    if position != zf.start_dir:
        _unaccounted(position, zf.start_dir, report)
    size = zf.fp.seek(0, os.SEEK_END)
    zf.fp.seek(size - END_RECORD_SIZE)
    if len(zf.comment) or not zf.fp.read(4) == zipfile.stringEndArchive:
        trailing = len(zf.comment) or "some"
        report.problem(f"the ZIP has a comment or bytes after its end record ({trailing} "
                       "bytes that belong to no entry)")


def _unaccounted(start: int, end: int, report: _Report) -> None:
    if start > end:
        report.problem(f"ZIP entries overlap at bytes {end} to {start}")
    else:
        report.problem(f"ZIP bytes {start} to {end} belong to no entry of the central directory "
                       "(a reader that unpacks the ZIP as a stream would find what is hidden "
                       "there)")


def _entry_end(fp, info: zipfile.ZipInfo, report: _Report) -> int:
    """Where an entry's local header, data and data descriptor end (its start if its local
    header is unreadable: opening it reports that)."""
    fp.seek(info.header_offset)
    header = fp.read(LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size or header[:4] != zipfile.stringFileHeader:
        return info.header_offset
    *_, name_length, extra_length = LOCAL_HEADER.unpack(header)
    name, extra = fp.read(name_length), fp.read(extra_length)
    # zipfile compares the two names only when it opens an entry, never for a folder.
    if name != _name_bytes(info):
        report.problem(f"ZIP entry {info.filename!r}: its local header names it "
                       f"{name.decode('utf-8', 'replace')!r}")
    renamed = _unicode_path(extra)
    if renamed not in (None, info.filename, _unicode_path(info.extra)):  # else named already
        report.problem(f"ZIP entry {info.filename!r}: its local header's Unicode Path field "
                       f"names it {renamed!r}")
    end = info.header_offset + LOCAL_HEADER.size + name_length + extra_length + \
        info.compress_size
    return end + (_descriptor_length(fp, end, info) if info.flag_bits & 0x08 else 0)


def _name_bytes(info: zipfile.ZipInfo) -> bytes:
    return info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")


UNICODE_PATH = 0x7075


def _unicode_path(extra: bytes) -> str | None:
    """The name in an Info-ZIP Unicode Path extra field, which unzip prefers to the entry's
    own name and zipfile ignores; None if there is none."""
    while len(extra) >= 4:
        kind, size = struct.unpack_from("<HH", extra)
        if kind == UNICODE_PATH and size >= 5:
            return extra[9:4 + size].decode("utf-8", "replace")
        extra = extra[4 + size:]
    return None


def _descriptor_length(fp, at: int, info: zipfile.ZipInfo) -> int:
    """The length of the data descriptor at `at` that repeats the entry's CRC and sizes
    (optional signature, 4- or 8-byte sizes), or 0 if there is none such."""
    fp.seek(at)
    data = fp.read(24)
    signature = 4 if data[:4] == b"PK\x07\x08" else 0
    for size_format in ("<3L", "<L2Q"):
        layout = struct.Struct(size_format)
        fields = data[signature:signature + layout.size]
        if len(fields) == layout.size and layout.unpack(fields) == (
                info.CRC, info.compress_size, info.file_size):
            return signature + layout.size
    return 0


def _open_archive(zf: zipfile.ZipFile, report: _Report) -> _Archive | None:
    entries = _safe_entries(zf, report)
    top = _top_folder(entries, report)
    if top is None:
        return None
    prefix = f"{top}/"
    files = {name[len(prefix):]: info for name, info in entries.items()
             if name.startswith(prefix) and not name.endswith("/")}
    report.label = top
    _check_folders(entries, prefix, files, report)
    return _Archive(zf, top, files, report)


def _check_folders(entries: dict, prefix: str, files: dict, report: _Report) -> None:
    """Folder entries are never read (by zipfile or here): each must hold nothing and hold
    a file of the dossier, as ``zip -r`` writes them. Another is an addition, and one named
    like a file ("manifest.json/") makes unpacking fail."""
    holding = {prefix} | {prefix + path[:end + 1] for path in files
                          for end in range(len(path)) if path[end] == "/"}
    for name, info in sorted(entries.items()):
        if not name.endswith("/"):
            continue
        if info.file_size or info.compress_size:
            report.problem(f"folder entry {name} holds {info.file_size} bytes")
        elif name not in holding:
            report.problem(f"unexpected folder entry {name} (no file of the dossier lies in it)")


def _check_required(archive: _Archive, report: _Report) -> None:
    for path in REQUIRED:
        if not archive.has(path):
            report.problem(f"required file {path} is missing")


# --- 2. signature ----------------------------------------------------------------------------

def _check_signature(archive: _Archive, manifest_bytes: bytes | None,
                     expected_key: Ed25519PublicKey | None, report: _Report) -> None:
    key = _dossier_key(archive, report)
    if key is None:
        return
    report.fingerprint = _key_fingerprint(key)
    if expected_key is not None and _key_fingerprint(expected_key) != report.fingerprint:
        report.problem(f"{PUBLIC_KEY} ({report.fingerprint}) is not the expected key "
                       f"({_key_fingerprint(expected_key)})")
    report.key_pinned = expected_key is not None
    signature = archive.read_small(SIGNATURE, KEY_FILE_LIMIT)
    if signature is None or manifest_bytes is None:
        return
    if len(signature) != 64:
        report.problem(f"{SIGNATURE} is {len(signature)} bytes; an Ed25519 signature is 64")
        return
    try:
        key.verify(signature, manifest_bytes)
    except InvalidSignature:
        report.problem(f"{SIGNATURE}: the signature over {MANIFEST} does not verify with "
                       f"{PUBLIC_KEY} ({MANIFEST} was changed, or signed with another key)")
        return
    report.signature_ok = True


def _dossier_key(archive: _Archive, report: _Report) -> Ed25519PublicKey | None:
    pem = archive.read_small(PUBLIC_KEY, KEY_FILE_LIMIT)
    if pem is None:
        return None
    try:
        return load_public_key(pem)
    except ValueError as err:
        report.problem(f"{PUBLIC_KEY}: {err}")
        return None


# --- 3. manifest -----------------------------------------------------------------------------

ITEM_FIELDS = {"number": _is_int, "photo_id": _is_text, "sha256": _is_sha256,
               "size": _is_count, "original": _is_relative_path}
CUSTODY_FIELDS = {"head_seq": _is_count, "head_hash": _is_sha256, "events": _is_count,
                  "file": _is_relative_path}


def _load_manifest(data: bytes | None, report: _Report) -> dict | None:
    if data is None:
        return None
    try:
        manifest = _parse_json(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        report.problem(f"{MANIFEST} is not valid UTF-8 JSON ({err})")
        return None
    if not isinstance(manifest, dict):
        report.problem(f"{MANIFEST} is not a JSON object")
        return None
    if manifest.get("format") != FORMAT:
        report.problem(f"{MANIFEST}: format is {manifest.get('format')!r}, expected {FORMAT!r} "
                       "(its contents were not checked)")
        return None
    return manifest


def _manifest_items(manifest: dict, report: _Report) -> list[dict]:
    """The well-formed items; each malformed one is reported."""
    items = manifest.get("items")
    if not isinstance(items, list):
        report.problem(f"{MANIFEST}: 'items' is missing or not a list")
        return []
    report.items = len(items)
    good, numbers = [], set()
    for index, item in enumerate(items, start=1):
        where = f"{MANIFEST} item #{index}"
        found = _malformed(item, ITEM_FIELDS, where)
        if isinstance(item, dict) and not (item.get("preview") is None
                                           or _is_relative_path(item.get("preview"))):
            found.append(f"{where}: 'preview' is malformed")
        # Optional: manifests from before SM3 was added have none.
        if isinstance(item, dict) and not (item.get("sm3") is None
                                           or _is_sha256(item.get("sm3"))):
            found.append(f"{where}: 'sm3' is malformed")
        for message in found:
            report.problem(message)
        if found:
            continue
        if item["number"] in numbers:
            report.problem(f"{where}: item number {item['number']} is used twice")
        numbers.add(item["number"])
        good.append(item)
    return good


def _manifest_files(manifest: dict, report: _Report) -> dict[str, str]:
    files = manifest.get("files")
    if not isinstance(files, dict):
        report.problem(f"{MANIFEST}: 'files' is missing or not an object")
        return {}
    good = {}
    for path, sha256 in files.items():
        if not _is_relative_path(path) or not _is_sha256(sha256):
            report.problem(f"{MANIFEST}: files entry {path!r} is malformed")
            continue
        good[path] = sha256.lower()
    return good


def _manifest_custody(manifest: dict, report: _Report) -> dict | None:
    custody = manifest.get("custody")
    found = _malformed(custody, CUSTODY_FIELDS, f"{MANIFEST} custody")
    for message in found:
        report.problem(message)
    return None if found else custody


def _check_label(manifest: dict, archive: _Archive, report: _Report) -> None:
    dossier = manifest.get("dossier")
    label = dossier.get("label") if isinstance(dossier, dict) else None
    if label != archive.top:
        report.problem(f"top folder {archive.top}/ is not the manifest's dossier label {label!r}")


# --- 4. contents -----------------------------------------------------------------------------

def _check_items(items: list[dict], files: dict, archive: _Archive, report: _Report) -> None:
    for item in items:
        _check_original(item, archive, report)
        _check_preview(item, files, archive, report)


def _check_original(item: dict, archive: _Archive, report: _Report) -> None:
    path, sha256 = item["original"], item["sha256"].lower()
    where = f"item {item['number']}"
    expected_prefix = f"originals/{item['number']:03d}-{sha256[:8]}"
    if not path.startswith(expected_prefix):
        report.problem(f"{where}: original {path} is not named {expected_prefix}<ext>")
    if not archive.has(path):
        report.problem(f"{where}: original {path} is missing")
        return
    sm3 = archive.sm3(path) if item.get("sm3") is not None else None
    digest = archive.digest(path)
    if digest is None:
        return
    if sm3 is None and item.get("sm3") is not None:
        report.sm3_unchecked = True
    elif sm3 is not None and sm3 != item["sm3"].lower():
        report.problem(f"{path} ({where}): SM3 is {sm3}, the manifest says {item['sm3']}")
    actual_sha, actual_size = digest
    if actual_sha != sha256:
        report.problem(f"{path} ({where}): SHA-256 is {actual_sha}, the manifest says {sha256} "
                       "(the original was altered or replaced)")
    if actual_size != item["size"]:
        report.problem(f"{path} ({where}): size is {actual_size} bytes, "
                       f"the manifest says {item['size']}")
    if actual_sha == sha256 and actual_size == item["size"]:
        report.originals += 1


def _check_preview(item: dict, files: dict, archive: _Archive, report: _Report) -> None:
    path = item.get("preview")
    if path is None:
        return
    where = f"item {item['number']}"
    if not archive.has(path):
        report.problem(f"{where}: preview {path} is missing")
    if path not in files:
        report.problem(f"{where}: preview {path} is not listed in the manifest's files")


def _check_listed_files(files: dict, custody_file: str, archive: _Archive,
                        report: _Report) -> None:
    for path in (CATALOG, custody_file):
        if path not in files:
            report.problem(f"{path} is not listed in the manifest's files "
                           "(not covered by the signature)")
    for path, sha256 in files.items():
        if not archive.has(path):
            report.problem(f"{path} is listed in {MANIFEST} but missing")
            continue
        digest = archive.digest(path)
        if digest is not None and digest[0] != sha256:
            report.problem(f"{path}: SHA-256 is {digest[0]}, {MANIFEST} says {sha256}")


def _check_no_extras(items: list[dict], files: dict, archive: _Archive, report: _Report) -> None:
    covered = set(UNLISTED_PARTS) | set(files) | {item["original"] for item in items}
    for path in sorted(set(archive.files) - covered):
        report.problem(f"unexpected file {path} (not covered by the signed manifest)")


# --- 5. SHA256SUMS ---------------------------------------------------------------------------

def _check_sums(archive: _Archive, report: _Report) -> None:
    data = archive.read_small(SUMS)
    if data is None:
        return
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        report.problem(f"{SUMS} is not UTF-8 text")
        return
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    listed = set()
    for number, line in enumerate(lines, start=1):
        path = _check_sums_line(line, f"{SUMS} line {number}", archive, report)
        if path is None:
            continue
        if path in listed:
            report.problem(f"{SUMS} line {number}: {path} is listed twice")
        listed.add(path)
    for path in sorted(set(archive.files) - listed - {SUMS}):
        report.problem(f"{path} is not listed in {SUMS}")


def _check_sums_line(line: str, where: str, archive: _Archive, report: _Report) -> str | None:
    """Check one "<hex>  <path>" line; return its path (None if malformed)."""
    match = SUMS_LINE.fullmatch(line)
    if not match:
        report.problem(f"{where}: not in sha256sum format ('<hex>  <path>')")
        return None
    expected, path = match.group(1).lower(), match.group(2)
    if not archive.has(path):
        report.problem(f"{where}: {path} is missing")
        return path
    digest = archive.digest(path)
    if digest is not None and digest[0] != expected:
        report.problem(f"{where}: {path} has SHA-256 {digest[0]}, {SUMS} says {expected}")
    return path


# --- 6. custody ------------------------------------------------------------------------------

@dataclass
class _Custody:
    lines: int = 0
    last_seq: int | None = None
    last_hash: str | None = None
    # photo id -> its intact "received" events; seq -> hash of every intact event
    receipts: dict[str, list[dict]] = field(default_factory=dict)
    hashes: dict[int, str] = field(default_factory=dict)


def _numbered_lines(stream):
    """(line number, bytes or None when longer than LINE_LIMIT), reading a line at a time."""
    number = 0
    while True:
        raw = stream.readline(LINE_LIMIT + 1)
        if not raw:
            return
        number += 1
        if len(raw) <= LINE_LIMIT:
            yield number, raw
            continue
        while raw and not raw.endswith(b"\n"):
            raw = stream.readline(LINE_LIMIT + 1)
        yield number, None


def _read_custody(archive: _Archive, path: str, report: _Report) -> _Custody | None:
    if not archive.has(path):
        return None
    custody, previous = _Custody(), None
    try:
        with archive.open(path) as stream:
            for number, raw in _numbered_lines(stream):
                custody.lines += 1
                event = _check_event(raw, previous, f"{path} line {number}", custody, report)
                previous = event or previous
    except Exception as err:  # a corrupt entry is a finding, not a crash
        report.problem(f"{path}: cannot be read from the ZIP ({err})")
    if previous is not None:
        custody.last_seq, custody.last_hash = previous["seq"], previous["hash"]
    report.events = custody.lines
    return custody


def _check_event(raw: bytes | None, previous: dict | None, where: str, custody: _Custody,
                 report: _Report) -> dict | None:
    """Check one custody line against its own hash and the previous line; return the event."""
    event = _parse_event(raw, where, report)
    if event is None:
        return None
    where = f"{where} (event #{event['seq']})"
    intact = _hash_holds(event, where, report)
    _check_link(event, previous, where, report)
    if intact:
        custody.hashes[event["seq"]] = event["hash"]
        _note_received(event, custody)
    return event


def _parse_event(raw: bytes | None, where: str, report: _Report) -> dict | None:
    if raw is None:
        report.problem(f"{where}: longer than {LINE_LIMIT} bytes")
        return None
    try:
        event = _parse_json(raw.decode("utf-8"))
    except json.JSONDecodeError as err:
        # The position within the line; "line 1" from the decoder would mislead here.
        report.problem(f"{where}: not valid JSON ({err.msg} at character {err.pos + 1})")
        return None
    except (UnicodeDecodeError, ValueError) as err:
        report.problem(f"{where}: not valid UTF-8 JSON ({err})")
        return None
    problem = _event_shape_problem(event)
    if problem:
        report.problem(f"{where}: {problem}")
        return None
    return event


def _event_shape_problem(event) -> str | None:
    if not isinstance(event, dict):
        return "not a JSON object"
    missing = [name for name in EVENT_FIELDS if name not in event]
    if missing:
        return "missing " + ", ".join(missing)
    extra = sorted(set(event) - set(EVENT_FIELDS))
    if extra:
        return "fields outside the hash: " + ", ".join(extra)
    if not (_is_int(event["seq"]) and event["seq"] >= 1):
        return "seq is not a positive integer"
    if not (_is_sha256(event["prev_hash"]) and _is_sha256(event["hash"])):
        return "prev_hash or hash is not a SHA-256 hex string"
    return None


def _hash_holds(event: dict, where: str, report: _Report) -> bool:
    try:
        holds = link_hash(event["prev_hash"], event) == event["hash"]
    except UnicodeEncodeError:
        holds = False
    if not holds:
        report.problem(f"{where}: hash does not match its content (event altered)")
    return holds


def _check_link(event: dict, previous: dict | None, where: str, report: _Report) -> None:
    seq = event["seq"]
    if seq == 1 and event["prev_hash"] != GENESIS_HASH:
        report.problem(f"{where}: the first event's prev_hash is not {GENESIS_HASH}")
    if previous is None:
        return
    if seq <= previous["seq"]:
        report.problem(f"{where}: seq does not increase (previous line is #{previous['seq']})")
    elif seq == previous["seq"] + 1 and event["prev_hash"] != previous["hash"]:
        report.problem(f"{where}: prev_hash is not the hash of event #{previous['seq']} "
                       "on the previous line (chain broken)")


def _note_received(event: dict, custody: _Custody) -> None:
    if event["action"] == "received" and event["subject_type"] == "photo":
        custody.receipts.setdefault(str(event["subject_id"]), []).append(event)


def _recorded_sha256(event: dict) -> str | None:
    details = event["details"] if isinstance(event["details"], dict) else {}
    sha256 = details.get("sha256")
    return sha256.lower() if isinstance(sha256, str) else None


def _sole_receipt(item: dict, custody: _Custody) -> dict | None:
    """The item's receipt: its photo's one "received" event, if it records the item's hash.

    A photo is received once. A second "received" event, appended after the first was
    time-stamped, could otherwise vouch for a swapped original while the time-stamp covers
    only the first: the item's hash must be the one the time-stamped receipt records."""
    found = custody.receipts.get(item["photo_id"], [])
    if len(found) == 1 and _recorded_sha256(found[0]) == item["sha256"].lower():
        return found[0]
    return None


def _check_custody_against_manifest(custody: _Custody, section: dict, items: list[dict],
                                    report: _Report) -> None:
    path = section["file"]
    if custody.lines != section["events"]:
        report.problem(f"{path} has {custody.lines} events, {MANIFEST} says {section['events']} "
                       "(events removed or added)")
    if custody.last_seq is not None and custody.last_seq > section["head_seq"]:
        report.problem(f"{path}: last event #{custody.last_seq} is beyond the chain head "
                       f"#{section['head_seq']} recorded in {MANIFEST}")
    if custody.last_seq == section["head_seq"] and custody.last_hash != section["head_hash"]:
        report.problem(f"{path}: the hash of head event #{custody.last_seq} is not the "
                       f"head_hash recorded in {MANIFEST}")
    for item in items:
        _check_receipt(item, custody, path, report)


def _check_receipt(item: dict, custody: _Custody, path: str, report: _Report) -> None:
    where, found = f"item {item['number']}", custody.receipts.get(item["photo_id"], [])
    if len(found) > 1:
        seqs = ", ".join(f"#{event['seq']}" for event in found)
        report.problem(f"{where}: {path} has {len(found)} 'received' events for photo "
                       f"{item['photo_id']} ({seqs}); a photo is received once")
        return
    receipt = _sole_receipt(item, custody)
    if receipt is None:
        report.problem(f"{where}: {path} has no intact 'received' event for "
                       f"photo {item['photo_id']} with SHA-256 {item['sha256']}")
        return
    for problem in _receipt_claim_problems(item, receipt):
        report.problem(f"{where}: {problem}")


def _receipt_claim_problems(item: dict, receipt: dict) -> list[str]:
    """What the manifest says of the item's receipt, against the receipt event itself (the
    catalog shows these; older manifests may lack them)."""
    problems = []
    if item.get("receipt_seq") is not None and item["receipt_seq"] != receipt["seq"]:
        problems.append(f"receipt_seq {item['receipt_seq']!r} is not its 'received' event "
                        f"#{receipt['seq']}")
    if item.get("receipt_hash") is not None and item["receipt_hash"] != receipt["hash"]:
        problems.append(f"receipt_hash is not the hash of its 'received' event "
                        f"#{receipt['seq']}")
    if item.get("received_at") is not None and \
            _as_time(item["received_at"]) != _as_time(receipt["occurred_at"]):
        problems.append(f"received_at {item['received_at']!r} is not the time of its "
                        f"'received' event #{receipt['seq']} ({receipt['occurred_at']})")
    return problems


def _as_time(text) -> datetime | str:
    """An RFC 3339 text as an aware datetime to compare; the text itself if it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return text
    return moment if moment.tzinfo is not None else text


# --- 7. time-stamps --------------------------------------------------------------------------

TIMESTAMP_FIELDS = {"file": _is_relative_path, "custody_seq": _is_count,
                    "custody_hash": _is_sha256, "tsa": _is_text, "gen_time": _is_text}


def load_tsa_roots(pem: bytes | str) -> list:
    """The trusted TSA root certificates of a PEM bundle; ValueError if it holds none."""
    if isinstance(pem, str):
        pem = pem.encode()
    roots = x509.load_pem_x509_certificates(pem)
    if not roots:
        raise ValueError("no certificate in the PEM file")
    return roots


def _manifest_timestamps(manifest: dict, files: dict, report: _Report) -> dict[str, dict]:
    """The well-formed time-stamp entries, by file; each malformed one is reported."""
    entries = manifest.get("timestamps", [])
    if not isinstance(entries, list):
        report.problem(f"{MANIFEST}: 'timestamps' is not a list")
        return {}
    good = {}
    for index, entry in enumerate(entries, start=1):
        found = _malformed(entry, TIMESTAMP_FIELDS, f"{MANIFEST} timestamps #{index}")
        for message in found:
            report.problem(message)
        if found:
            continue
        if entry["file"] in good:
            # One token, two claims: only one could be held to the token.
            report.problem(f"{MANIFEST} timestamps #{index}: {entry['file']} is named by an "
                           "earlier entry too")
            continue
        if entry["file"] not in files:
            report.problem(f"{entry['file']} is not listed in the manifest's files "
                           "(not covered by the signature)")
        good[entry["file"]] = entry
    report.timestamps = len(good)
    return good


def _check_timestamps(entries: dict[str, dict], items: list[dict], custody: _Custody | None,
                      archive: _Archive, roots_pem: bytes | None, report: _Report) -> None:
    roots = load_tsa_roots(roots_pem) if roots_pem is not None else None
    if roots_pem is not None and not entries:
        report.problem("--tsa-ca was given but the dossier carries no time-stamps")
    for path, entry in sorted(entries.items()):
        data = archive.read_small(path, TOKEN_LIMIT)
        if data is None:
            if not archive.has(path):
                report.problem(f"time-stamp {path} is missing")
            continue
        for problem in _token_problems(data, entry, roots, roots_pem, report):
            report.problem(f"{path}: {problem}")
        if custody is not None and custody.hashes.get(entry["custody_seq"]) != \
                entry["custody_hash"]:
            report.problem(f"{path}: custody event #{entry['custody_seq']} with hash "
                           f"{entry['custody_hash']} is not intact in the custody file")
    if entries and roots_pem is None:
        report.tokens_note = "signatures not checked against a TSA root: use --tsa-ca"
    elif entries and roots_pem is not None:
        report.tokens_note = f"{report.tokens_signed} verified against --tsa-ca"
    if custody is not None:
        for item in items:
            _check_item_coverage(item, entries, custody, report)


@dataclass
class _TokenReading:
    """What a TimeStampResp says, whichever reader read it."""

    granted: bool
    algorithm: str  # the imprint's hash: "sha256" or an OID
    message: bytes
    gen_time: datetime


def _token_problems(data: bytes, entry: dict, roots, roots_pem, report: _Report) -> list[str]:
    try:
        reading = _read_token(data)
    except Exception as err:  # any parse failure of a hostile file is a finding
        return [f"not a readable RFC 3161 TimeStampResp ({_short(err)})"]
    problems = [] if reading is None else _reading_problems(reading, entry)
    if roots_pem is None:
        return problems
    if rfc3161_client is None:
        return problems + _openssl_problems(data, entry, roots_pem, report)
    builder = rfc3161_client.VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(rfc3161_client.decode_timestamp_response(data),
                               bytes.fromhex(entry["custody_hash"]))
    except Exception as err:  # VerificationError, or a malformed signature
        return problems + [f"does not verify against --tsa-ca ({_short(err)})"]
    report.tokens_signed += 1
    return problems


def _reading_problems(reading: _TokenReading, entry: dict) -> list[str]:
    problems = []
    if not reading.granted:
        problems.append("the authority did not grant it")
    if reading.algorithm not in (SHA256_OID, "sha256") or \
            reading.message != bytes.fromhex(entry["custody_hash"]):
        problems.append(f"it does not time-stamp custody hash {entry['custody_hash']}")
    if not _same_time(reading.gen_time, entry["gen_time"]):
        problems.append(f"its time {reading.gen_time.isoformat()} is not the manifest's "
                        f"{entry['gen_time']}")
    return problems


def _read_token(data: bytes) -> _TokenReading | None:
    """The token read by rfc3161-client, else by the openssl command; None with neither."""
    if rfc3161_client is not None:
        response = rfc3161_client.decode_timestamp_response(data)
        info = response.tst_info
        return _TokenReading(response.status in (0, 1),
                             info.message_imprint.hash_algorithm.dotted_string,
                             info.message_imprint.message, info.gen_time)
    if shutil.which("openssl") is None:
        return None
    # Without this, a reader lacking rfc3161-client got no check of the token's time (which
    # the catalog shows) at all: only openssl ts -verify, which never looks at it.
    return _openssl_reading(_openssl_ts(["-reply", "-text"], data).stdout)


def _openssl_reading(text: str) -> _TokenReading:
    """A token from the text of ``openssl ts -reply -text``."""
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    dump = re.search(r"^Message data:\n((?:\s+[0-9a-f]{4} - .*\n?)+)", text, re.MULTILINE)
    if dump is None or "Time stamp" not in fields:
        raise ValueError("openssl ts -reply -text shows no imprint or time")
    # Each dump line: offset, " - ", 16 bytes in hex (a "-" after the 8th), then the text.
    message = bytes.fromhex("".join(line.split(" - ", 1)[1][:47].replace("-", " ")
                                    for line in dump.group(1).splitlines()))
    return _TokenReading(fields.get("Status", "").startswith("Granted"),
                         fields.get("Hash Algorithm", ""), message,
                         _openssl_time(fields["Time stamp"]))


def _openssl_time(text: str) -> datetime:
    """``Dec  2 04:00:52[.25] 2026 GMT``, as openssl prints a GeneralizedTime."""
    month, day, clock, year, _zone = text.split()
    if "." not in clock:
        clock += ".0"
    return datetime.strptime(f"{month} {day} {clock} {year}", "%b %d %H:%M:%S.%f %Y").replace(
        tzinfo=timezone.utc)  # noqa: UP017 (Python 3.9)


def _openssl_ts(args: list[str], data: bytes, roots_pem: bytes | None = None):
    """openssl ts ARGS -in <data as a file> [-CAfile <roots_pem as a file>]."""
    with tempfile.TemporaryDirectory() as work:
        token, roots = os.path.join(work, "token.tsr"), os.path.join(work, "roots.pem")
        with open(token, "wb") as handle:
            handle.write(data)
        extra = []
        if roots_pem is not None:
            with open(roots, "wb") as handle:
                handle.write(roots_pem)
            extra = ["-CAfile", roots]
        result = subprocess.run(["openssl", "ts", *args, "-in", token, *extra],
                                capture_output=True, text=True)
    if args[0] == "-reply" and result.returncode != 0:
        raise ValueError((result.stderr.strip().splitlines() or ["openssl failed"])[-1])
    return result


def _openssl_problems(data: bytes, entry: dict, roots_pem: bytes, report: _Report) -> list[str]:
    """The reference check, for a reader without rfc3161-client: openssl ts -verify."""
    if shutil.which("openssl") is None:
        return ["cannot be checked: install rfc3161-client (pip) or openssl"]
    result = _openssl_ts(["-verify", "-digest", entry["custody_hash"]], data, roots_pem)
    if result.returncode != 0 or "Verification: OK" not in result.stdout:
        return ["openssl ts -verify fails: " + (result.stderr.strip().splitlines() or ["?"])[-1]]
    report.tokens_signed += 1
    return []


def _short(err: Exception) -> str:
    # OpenSSL error stacks run to hundreds of characters; their head says what failed.
    return str(err).split(": ErrorStack", 1)[0][:300]


def _same_time(token_time: datetime, manifest_time: str) -> bool:
    try:
        stated = datetime.fromisoformat(manifest_time)
    except ValueError:
        return False
    if token_time.tzinfo is None:  # GeneralizedTime is UTC (RFC 3161 2.4.2)
        token_time = token_time.replace(tzinfo=timezone.utc)  # noqa: UP017 (Python 3.9)
    return stated.tzinfo is not None and stated == token_time


def _check_item_coverage(item: dict, entries: dict[str, dict], custody: _Custody,
                         report: _Report) -> None:
    where = f"item {item['number']}"
    files = item.get("timestamps", [])
    if not isinstance(files, list):
        report.problem(f"{where}: 'timestamps' is not a list")
        return
    if not files:
        report.uncovered.append(item["number"])
    sole = _sole_receipt(item, custody)
    receipt = sole["seq"] if sole else None
    for path in files:
        # Only a text can name a file; a list or object here is no key to look up.
        entry = entries.get(path) if isinstance(path, str) else None
        if entry is None:
            report.problem(f"{where}: time-stamp {path!r} is not in the manifest's timestamps")
            continue
        if receipt is None:
            continue  # already reported: no single intact "received" event with its hash
        if entry["custody_seq"] < receipt:
            report.problem(f"{where}: {path} anchors event #{entry['custody_seq']}, before its "
                           f"receipt (event #{receipt})")
            continue
        gap = _first_gap(custody.hashes, receipt, entry["custody_seq"])
        if gap is not None:
            report.problem(f"{where}: the custody file lacks intact event #{gap}, between "
                           f"its receipt (#{receipt}) and the time-stamped event "
                           f"#{entry['custody_seq']}")


def _first_gap(hashes: dict[int, str], low: int, high: int) -> int | None:
    """The first seq from low to high that hashes lacks, or None.

    Walks only through seqs present, so a hostile seq of 10**15 costs no more than the
    custody file's own length."""
    seq = low
    while seq <= high and seq in hashes:
        seq += 1
    return seq if seq <= high else None


# --- putting it together ---------------------------------------------------------------------

def verify_dossier(path, expected_key_pem: bytes | str | None = None,
                   tsa_ca_pem: bytes | str | None = None) -> Result:
    """Check the dossier ZIP at path; every problem found is listed in the Result.

    expected_key_pem pins the public key the dossier must be signed with; tsa_ca_pem holds the
    root certificate(s) its time-stamps must verify to. An invalid PEM raises ValueError. A
    file that cannot be opened as a ZIP gives a Result with readable=False.
    """
    expected_key = load_public_key(expected_key_pem) if expected_key_pem is not None else None
    if isinstance(tsa_ca_pem, str):
        tsa_ca_pem = tsa_ca_pem.encode()
    if tsa_ca_pem is not None:
        load_tsa_roots(tsa_ca_pem)
    try:
        zf = zipfile.ZipFile(path)
    # RuntimeError covers NotImplementedError, raised for an unknown ZIP version.
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, RuntimeError) as err:
        return Result([f"{path}: cannot be read as a ZIP file ({err})"],
                      "not a readable ZIP file", readable=False)
    report = _Report()
    with zf:
        _check_layout(zf, report)
        archive = _open_archive(zf, report)
        if archive is not None:
            _verify_archive(archive, expected_key, tsa_ca_pem, report)
    return Result(report.problems, report.summary())


def _verify_archive(archive: _Archive, expected_key: Ed25519PublicKey | None,
                    tsa_ca_pem: bytes | None, report: _Report) -> None:
    _check_required(archive, report)
    manifest_bytes = archive.read_small(MANIFEST)
    _check_signature(archive, manifest_bytes, expected_key, report)
    manifest = _load_manifest(manifest_bytes, report)
    items, section, stamps = [], None, {}
    if manifest is not None:
        _check_label(manifest, archive, report)
        items = _manifest_items(manifest, report)
        files = _manifest_files(manifest, report)
        section = _manifest_custody(manifest, report)
        custody_file = section["file"] if section else DEFAULT_CUSTODY
        _check_items(items, files, archive, report)
        _check_listed_files(files, custody_file, archive, report)
        stamps = _manifest_timestamps(manifest, files, report)
        _check_no_extras(items, files, archive, report)
    _check_sums(archive, report)
    # Without a usable manifest the chain is still checked on its own.
    custody = _read_custody(archive, section["file"] if section else DEFAULT_CUSTODY, report)
    if custody is not None and section is not None:
        _check_custody_against_manifest(custody, section, items, report)
    if manifest is not None:
        _check_timestamps(stamps, items, custody, archive, tsa_ca_pem, report)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify.py", description="Check a fieldapp evidence dossier ZIP.")
    parser.add_argument("dossier", help="the dossier ZIP file")
    parser.add_argument("--key", metavar="FILE",
                        help="PEM public key the dossier must be signed with")
    parser.add_argument("--tsa-ca", metavar="FILE",
                        help="PEM root certificate(s) the time-stamps must verify to")
    args = parser.parse_args(argv)
    try:
        expected = _read_pem_option("--key", args.key, load_public_key)
        roots = _read_pem_option("--tsa-ca", args.tsa_ca, load_tsa_roots)
    except ValueError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 2
    result = verify_dossier(args.dossier, expected_key_pem=expected, tsa_ca_pem=roots)
    if not result.readable:
        for problem in result.problems:
            print(f"ERROR: {problem}", file=sys.stderr)
        return 2
    if result.ok:
        print(f"OK: {result.summary}")
        return 0
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
    print(f"FAILED: {len(result.problems)} problem(s); {result.summary}")
    return 1


def _read_pem_option(option: str, path: str | None, load) -> bytes | None:
    """The PEM file an option names, checked with load; ValueError naming the option."""
    if path is None:
        return None
    try:
        pem = _read_key_file(path)
        load(pem)
    except (OSError, ValueError) as err:
        raise ValueError(f"{option} {path}: {err}") from err
    return pem


def _read_key_file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(KEY_FILE_LIMIT)


if __name__ == "__main__":
    sys.exit(main())
