"""Decompression bombs made in code: small files that declare enormous images.

Each is a well-formed file of a few kilobytes (every structural check passes) whose headers
declare more pixels than any budget allows; decoded, each would take gigabytes.
"""
from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from tests.imagegen import jpeg_bytes


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A one-bit PNG, all zeros: 50 MB of rows compress to some tens of kilobytes."""
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte "None", then the packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) \
        + _chunk(b"IEND", b"")


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload \
        + struct.pack(">I", zlib.crc32(kind + payload))


def jpeg_claiming(width: int = 60000, height: int = 60000, **exif_fields) -> bytes:
    """A small real JPEG whose frame header (SOF) is rewritten to declare width x height."""
    data = bytearray(jpeg_bytes(seed=7, size=(64, 48), **exif_fields))
    at = 2
    while True:
        marker, length = data[at + 1], struct.unpack_from(">H", data, at + 2)[0]
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, at + 5, height, width)
            return bytes(data)
        at += 2 + length


def tiff_claiming(width: int = 20000, height: int = 20000) -> bytes:
    """A little-endian TIFF whose one strip (deflated zeros) declares width x height, 8 bits."""
    strip = zlib.compress(bytes(4096))
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8),
               (259, 3, 1, 8),  # Adobe deflate
               (262, 3, 1, 1), (273, 4, 1, 0), (277, 3, 1, 1), (278, 4, 1, height),
               (279, 4, 1, len(strip))]
    ifd_at = 8
    strip_at = ifd_at + 2 + 12 * len(entries) + 4
    body = bytearray(b"II*\x00" + struct.pack("<I", ifd_at))
    body += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = strip_at if tag == 273 else value
        packed = struct.pack("<H", value) + b"\x00\x00" if kind == 3 else struct.pack("<I", value)
        body += struct.pack("<HHI", tag, kind, count) + packed
    body += struct.pack("<I", 0) + strip
    return bytes(body)


def heif_claiming(width: int = 12000, height: int = 12000) -> bytes:
    """A small real HEIF (encoded here) whose every 'ispe' property declares width x height."""
    import pillow_heif

    image = Image.new("RGB", (64, 64), (90, 120, 60))
    heif = pillow_heif.from_pillow(image)
    out = io.BytesIO()
    heif.save(out, quality=50)
    data = bytearray(out.getvalue())
    found = 0
    at = data.find(b"ispe")
    while at >= 0:
        # ispe: size, type, version/flags (4 bytes), then width and height.
        struct.pack_into(">II", data, at + 8, width, height)
        found += 1
        at = data.find(b"ispe", at + 4)
    assert found, "the encoder wrote no ispe property"
    return bytes(data)
