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

The same walks give the image's declared size (dimensions, pixel_problem): a few kilobytes
can declare 20000 x 20000 pixels, which decoded would take gigabytes, so the size must be
known before anything is decoded. The declared size is what a decoder allocates for.
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


def dimensions(path: str | os.PathLike, media_type: str) -> tuple[int, int] | None:
    """(width, height) of the largest image the file declares, or None if it declares none.

    Read from the headers alone (JPEG SOF, PNG IHDR, TIFF ImageWidth/ImageLength of every
    directory, HEIF 'ispe' properties); no pixel is decoded. The largest declared image is
    taken because a decoder may be asked for any of them (a HEIF grid's full size, a later
    TIFF page), and a bomb must not hide behind a small first one.
    """
    reader = _DIMENSIONS.get(media_type)
    if reader is None:
        raise ValueError(f"no dimension reader for {media_type!r}")
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return None
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                sizes = [size for size in reader(data) if size[0] > 0 and size[1] > 0]
            except (struct.error, IndexError, ValueError):
                return None  # headers broken past what problem() looks at: nothing declared
    return max(sizes, key=lambda size: size[0] * size[1], default=None)


def pixel_problem(path: str | os.PathLike, media_type: str, max_pixels: int) -> str | None:
    """Why the file must not be decoded under a budget of max_pixels, or None if it may be."""
    size = dimensions(path, media_type)
    if size is None or max_pixels <= 0:
        return None
    return budget_problem(size, max_pixels)


def budget_problem(size: tuple[int, int], max_pixels: int) -> str | None:
    """The sentence refusing an image of this size, or None if it is within the budget."""
    width, height = size
    if width * height <= max_pixels:
        return None
    return (f"the image declares {width} x {height} pixels ({width * height / 1e6:.1f} MP), "
            f"more than the {max_pixels / 1e6:g} MP this server decodes")


# Start-of-frame markers: every SOFn except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = {*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}


def _jpeg_sizes(data):
    """The frame header's size; a JPEG has one frame before its first scan."""
    at = 2 if data[:2] == b"\xff\xd8" else len(data)
    while at + 4 <= len(data):
        while at + 1 < len(data) and data[at] == 0xFF and data[at + 1] == 0xFF:
            at += 1
        if data[at] != 0xFF:
            return
        marker = data[at + 1]
        if marker in _STANDALONE_JPEG_MARKERS:
            at += 2
            continue
        if marker in (0xD9, 0xDA):
            return
        length = struct.unpack_from(">H", data, at + 2)[0]
        if marker in _JPEG_SOF:
            height, width = struct.unpack_from(">HH", data, at + 5)
            yield width, height
            return
        at += 2 + length


def _png_sizes(data):
    if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR":
        yield struct.unpack_from(">II", data, 16)


def _heif_sizes(data):
    """Every 'ispe' (image spatial extents) property in meta/iprp/ipco."""
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind == b"meta":
            for kind2, start2, end2 in _boxes(data, start + 4, end):  # meta is a full box
                if kind2 == b"iprp":
                    for kind3, start3, end3 in _boxes(data, start2, end2):
                        if kind3 == b"ipco":
                            for kind4, start4, _ in _boxes(data, start3, end3):
                                if kind4 == b"ispe":
                                    yield struct.unpack_from(">II", data, start4 + 4)


def _boxes(data, at: int, end: int):
    """(type, payload start, payload end) of the ISO-BMFF boxes between at and end."""
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            return
        yield kind, at + header, at + size
        at += size


# (entry count, entry size, offset, where an entry's value starts): classic TIFF, BigTIFF.
_TIFF_LAYOUTS = {42: ("H", 12, "I", 8), 43: ("Q", 20, "Q", 12)}
_TIFF_SHORT_TYPES = {3: "H", 4: "I", 16: "Q"}
_TIFF_MAX_DIRECTORIES = 64


def _tiff_sizes(data):
    """ImageWidth (256) and ImageLength (257) of every directory in the IFD chain."""
    order = {b"II": "<", b"MM": ">"}.get(bytes(data[:2]))
    if order is None:
        return
    magic = struct.unpack_from(order + "H", data, 2)[0]
    if magic not in _TIFF_LAYOUTS:
        return
    count_code, entry_size, offset_code, value_at = _TIFF_LAYOUTS[magic]
    ifd = struct.unpack_from(order + offset_code, data, 4 if magic == 42 else 8)[0]
    seen = set()
    while ifd and ifd not in seen and len(seen) < _TIFF_MAX_DIRECTORIES:
        seen.add(ifd)
        count = struct.unpack_from(order + count_code, data, ifd)[0]
        entries = ifd + struct.calcsize(count_code)
        size = {}
        for index in range(count):
            entry = entries + entry_size * index
            tag, kind = struct.unpack_from(order + "HH", data, entry)
            if tag in (256, 257) and kind in _TIFF_SHORT_TYPES:
                code = _TIFF_SHORT_TYPES[kind]
                size[tag] = struct.unpack_from(order + code, data, entry + value_at)[0]
        if 256 in size and 257 in size:
            yield size[256], size[257]
        ifd = struct.unpack_from(order + offset_code, data, entries + entry_size * count)[0]


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


_DIMENSIONS = {
    "image/jpeg": _jpeg_sizes,
    "image/png": _png_sizes,
    "image/heic": _heif_sizes,
    "image/heif": _heif_sizes,
    "image/tiff": _tiff_sizes,
}

_CHECKS = {
    "image/jpeg": _jpeg,
    "image/png": _png,
    "image/heic": _heif,
    "image/heif": _heif,
    "image/tiff": _tiff,
}
