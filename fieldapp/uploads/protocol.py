"""The header rules of tus 1.0 (https://tus.io/protocols/resumable-upload), as a pure core.

Kept free of Flask, the database and the disk so that every rule can be checked with plain
values, and so that the views and the service only ever see parsed, valid numbers: a header
a client got wrong becomes a ProtocolError naming the header, which the service turns into
the API's one error shape. Only what this server offers is parsed: core, creation,
creation-with-upload, checksum, expiration and termination. Deferred lengths and
concatenation are not offered (a photo's size is known before it is sent, and the per-photo
size cap is enforced on the length declared at creation).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

VERSION = "1.0.0"
EXTENSIONS = ("creation", "creation-with-upload", "checksum", "expiration", "termination")
# sha1 because the protocol requires every server to offer it (tuspy sends only sha1);
# sha256 first, as the one this server prefers.
CHECKSUM_ALGORITHMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}
CHUNK_MEDIA_TYPE = "application/offset+octet-stream"
# Upload-Metadata is echoed back on HEAD: kept short, and only ever printable ASCII.
MAX_METADATA_CHARS = 4096
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_METADATA_KEY = re.compile(r"^[!-+\--~]+$")  # printable ASCII but space and comma
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


class ProtocolError(Exception):
    """A request the protocol says to refuse: `status` as tus names it, the header at fault."""

    def __init__(self, status: int, header: str, message: str):
        super().__init__(f"{header}: {message}")
        self.status, self.header, self.message = status, header, message


def supported_version(value: str | None) -> bool:
    """Tus-Resumable must name the version spoken (412 with Tus-Version otherwise)."""
    return (value or "").strip() == VERSION


def capability_headers(max_size: int) -> dict[str, str]:
    """What OPTIONS announces."""
    return {"Tus-Version": VERSION, "Tus-Extension": ",".join(EXTENSIONS),
            "Tus-Max-Size": str(max_size),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS)}


def non_negative(header: str, value: str | None) -> int:
    """Upload-Offset and Upload-Length: a non-negative integer, nothing else (no sign, no
    spaces inside, no exponent): two servers must read the same header the same way."""
    if value is None:
        raise ProtocolError(400, header, "is required")
    text = value.strip()
    if not _DIGITS.match(text):
        raise ProtocolError(400, header, "must be a non-negative integer")
    return int(text)


def creation_length(length_header: str | None, defer_header: str | None,
                    max_size: int) -> int:
    """The length a POST declares, within 1 byte and the per-photo cap (413 beyond it)."""
    if defer_header is not None:
        raise ProtocolError(400, "Upload-Defer-Length",
                            "deferred lengths are not supported: send Upload-Length")
    length = non_negative("Upload-Length", length_header)
    if length == 0:
        raise ProtocolError(422, "Upload-Length", "an empty file is no photo")
    if length > max_size:
        raise ProtocolError(413, "Upload-Length",
                            f"larger than the {max_size} bytes a photo may have")
    return length


def parse_metadata(value: str | None) -> dict[str, bytes]:
    """Upload-Metadata: comma-separated `key base64value` pairs (the value may be left out),
    keys unique, non-empty, without spaces or commas."""
    if value is None or not value.strip():
        return {}
    if len(value) > MAX_METADATA_CHARS:
        raise ProtocolError(400, "Upload-Metadata", f"longer than {MAX_METADATA_CHARS} "
                            "characters")
    pairs: dict[str, bytes] = {}
    for item in value.split(","):
        key, _, encoded = item.strip().partition(" ")
        encoded = encoded.strip()
        if not _METADATA_KEY.match(key):
            raise ProtocolError(400, "Upload-Metadata", f"{key!r} is not a valid key")
        if key in pairs:
            raise ProtocolError(400, "Upload-Metadata", f"the key {key!r} is repeated")
        if not _BASE64.match(encoded):
            raise ProtocolError(400, "Upload-Metadata", f"the value of {key!r} is not Base64")
        try:
            pairs[key] = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise ProtocolError(400, "Upload-Metadata",
                                f"the value of {key!r} is not Base64") from None
    return pairs


def filename_of(metadata: dict[str, bytes]) -> str | None:
    """The `filename` (or `name`, as Uppy sends it) a client gave, as text, or None."""
    raw = metadata.get("filename", metadata.get("name"))
    if not raw:
        return None
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(400, "Upload-Metadata", "the filename is not UTF-8") from None
    if "\x00" in name:
        raise ProtocolError(400, "Upload-Metadata", "the filename holds a NUL character")
    return name.replace("\\", "/").rsplit("/", 1)[-1][:255] or None


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes

    def new(self):
        return CHECKSUM_ALGORITHMS[self.algorithm]()


def parse_checksum(value: str | None) -> Checksum | None:
    """Upload-Checksum: `<algorithm> <base64 digest>`; an algorithm not offered is a 400."""
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise ProtocolError(400, "Upload-Checksum", f"the algorithm {algorithm!r} is not "
                            f"supported (use {', '.join(CHECKSUM_ALGORITHMS)})")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise ProtocolError(400, "Upload-Checksum", "the checksum is not Base64") from None
    if len(digest) != CHECKSUM_ALGORITHMS[algorithm]().digest_size:
        raise ProtocolError(400, "Upload-Checksum",
                            f"not the length of a {algorithm} digest")
    return Checksum(algorithm, digest)


def check_chunk(current: int, length: int, claimed_offset: int,
                content_length: int | None) -> None:
    """A PATCH (or a POST with data) may go on: its offset is the upload's (409 otherwise,
    the upload untouched) and its body cannot run past the declared length (413)."""
    if claimed_offset != current:
        raise ProtocolError(409, "Upload-Offset",
                            f"is {claimed_offset}, but the upload is at {current}")
    if content_length is not None and current + content_length > length:
        raise ProtocolError(413, "Content-Length", f"{content_length} bytes at offset "
                            f"{current} would run past the upload's length of {length}")


def http_date(moment: datetime) -> str:
    """Upload-Expires in RFC 9110's date format (IMF-fixdate, GMT)."""
    return format_datetime(moment, usegmt=True)
