"""Is an uploaded image file whole? A structural check that reads no pixels.

Decoding a 12-megapixel photo costs tens of milliseconds, too much to do while the phone
waits, so the decode happens after receipt (see reports.analysis). What must be refused at
once is a file the network cut short: every format here ends in a way that can be found
without decoding. A file that is whole but whose pixels are corrupt is accepted and its
checks say so once it has been analysed.

    JPEG  markers walk from SOI to the first SOS; an EOI must follow the scan data.
    PNG   chunks walk from the signature to IEND, each inside the file, CRCs correct.
    HEIF  top-level ISO-BMFF boxes tile the file exactly (none runs past the end).
    TIFF  every strip or tile the first IFD names lies inside the file.
"""
from __future__ import annotations

import mmap
import os
import struct
import zlib

_STANDALONE_JPEG_MARKERS = {0x01, *range(0xD0, 0xD8)}  # TEM and RST0-7 carry no length


def problem(path: str | os.PathLike, media_type: str) -> str | None:
    """Why the file is not a whole image of media_type, or None if it is."""
    check = _CHECKS.get(media_type)
    if check is None:
        raise ValueError(f"no structural check for {media_type!r}")
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return "the file is empty"
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return check(data)


def jpeg_scan_start(data) -> tuple[int | None, str | None]:
    """(offset of the first scan's entropy-coded data, None), or (None, the problem).

    Everything before it is marker segments: EXIF, XMP, ICC profile, tables.
    """
    if data[:2] != b"\xff\xd8":
        return None, "no JPEG start-of-image marker"
    at = 2
    while True:
        # Markers may be preceded by any number of 0xFF fill bytes.
        while at + 1 < len(data) and data[at] == 0xFF and data[at + 1] == 0xFF:
            at += 1
        if at + 2 > len(data):
            return None, "the file ends before the image data starts"
        if data[at] != 0xFF:
            return None, f"no JPEG marker where one must be (byte {at})"
        marker = data[at + 1]
        if marker == 0xD9:
            return None, "the file ends (EOI) before any image data"
        if marker in _STANDALONE_JPEG_MARKERS:
            at += 2
            continue
        if at + 4 > len(data):
            return None, "the file ends inside a JPEG segment header"
        length = struct.unpack_from(">H", data, at + 2)[0]
        if length < 2 or at + 2 + length > len(data):
            return None, "a JPEG segment runs past the end of the file"
        if marker == 0xDA:  # start of scan: entropy-coded data follows its header
            return at + 2 + length, None
        at += 2 + length


def _jpeg(data) -> str | None:
    scan, problem = jpeg_scan_start(data)
    if problem:
        return problem
    # Inside scan data every 0xFF is followed by 0x00 or a restart marker, so any FF D9
    # after the scan header is the end of the image (some phones append a video or a
    # trailer after it). Searching from the end finds it at once in the usual file.
    if data.rfind(b"\xff\xd9", scan) < 0:
        return "the image data is cut short (no JPEG end-of-image marker)"
    return None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(data) -> str | None:
    if data[:8] != _PNG_SIGNATURE:
        return "no PNG signature"
    at = 8
    while at + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        end = at + 8 + length + 4
        if end > len(data):
            return f"the PNG chunk {kind.decode('latin-1')!r} runs past the end of the file"
        crc = struct.unpack_from(">I", data, at + 8 + length)[0]
        if zlib.crc32(data[at + 4 : at + 8 + length]) != crc:
            return f"the PNG chunk {kind.decode('latin-1')!r} is damaged (CRC mismatch)"
        if kind == b"IEND":
            return None
        at = end
    return "the file is cut short (no PNG IEND chunk)"


def _heif(data) -> str | None:
    at, boxes = 0, []
    while at < len(data):
        if at + 8 > len(data):
            return "the file ends inside a HEIF box header"
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if at + 16 > len(data):
                return "the file ends inside a HEIF box header"
            size = struct.unpack_from(">Q", data, at + 8)[0]
            header = 16
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - at
        if size < header:
            return f"the HEIF box {kind.decode('latin-1')!r} has an impossible size"
        if at + size > len(data):
            return f"the HEIF box {kind.decode('latin-1')!r} runs past the end of the file"
        boxes.append(kind)
        at += size
    if not boxes or boxes[0] != b"ftyp":
        return "the HEIF file does not start with an ftyp box"
    if b"meta" not in boxes:
        return "the HEIF file has no meta box"
    return None


_TIFF_DATA_TAGS = ((273, 279), (324, 325))  # (StripOffsets, StripByteCounts), tiles
_TIFF_TYPE_SIZES = {3: (2, "H"), 4: (4, "I"), 16: (8, "Q")}


def _tiff(data) -> str | None:
    order = {b"II": "<", b"MM": ">"}.get(bytes(data[:2]))
    if order is None:
        return "no TIFF byte-order mark"
    magic = struct.unpack_from(order + "H", data, 2)[0]
    if magic == 43:
        return None  # BigTIFF: no camera writes it; the decode after receipt judges it
    if magic != 42:
        return "not a TIFF file (bad magic number)"
    ifd = struct.unpack_from(order + "I", data, 4)[0]
    if ifd + 2 > len(data):
        return "the first TIFF directory lies past the end of the file"
    count = struct.unpack_from(order + "H", data, ifd)[0]
    if ifd + 2 + 12 * count > len(data):
        return "the first TIFF directory runs past the end of the file"
    tags = {}
    for index in range(count):
        tag, kind, n, value_at = struct.unpack_from(order + "HHII", data, ifd + 2 + 12 * index)
        tags[tag] = (kind, n, ifd + 2 + 12 * index + 8)
    for offsets_tag, counts_tag in _TIFF_DATA_TAGS:
        if offsets_tag in tags and counts_tag in tags:
            offsets = _tiff_values(data, order, *tags[offsets_tag])
            counts = _tiff_values(data, order, *tags[counts_tag])
            if offsets is None or counts is None:
                return "the TIFF image data table runs past the end of the file"
            if any(o + c > len(data) for o, c in zip(offsets, counts, strict=False)):
                return "the TIFF image data is cut short"
            return None
    return "the TIFF file names no image data"


def _tiff_values(data, order: str, kind: int, count: int, entry_value_at: int):
    if kind not in _TIFF_TYPE_SIZES:
        return None
    width, code = _TIFF_TYPE_SIZES[kind]
    at = entry_value_at
    if width * count > 4:
        at = struct.unpack_from(order + "I", data, entry_value_at)[0]
    if at + width * count > len(data):
        return None
    return struct.unpack_from(f"{order}{count}{code}", data, at)


_CHECKS = {
    "image/jpeg": _jpeg,
    "image/png": _png,
    "image/heic": _heif,
    "image/heif": _heif,
    "image/tiff": _tiff,
}
