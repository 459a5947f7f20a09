"""The structural check at receipt: whole files pass, files cut short never do."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from fieldapp.evidence import media, structure
from tests.helpers import SHARED_PHOTOS, shared_reference
from tests.imagegen import jpeg_bytes

REFERENCE = shared_reference()
CUTS = (0.05, 0.3, 0.6, 0.9)


def _write(tmp_path, data: bytes, name="f"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _shared(entry) -> tuple[bytes, str]:
    path = SHARED_PHOTOS / entry["file"]
    assert path.is_file(), f"shared photo not found: {path}"
    data = path.read_bytes()
    return data, media.sniff(data[:64])


@pytest.mark.parametrize("entry", REFERENCE, ids=[e["file"] for e in REFERENCE])
def test_every_shared_file_is_whole(entry):
    data, media_type = _shared(entry)
    assert structure.problem(SHARED_PHOTOS / entry["file"], media_type) is None


@pytest.mark.parametrize("entry", REFERENCE, ids=[e["file"] for e in REFERENCE])
def test_every_shared_file_cut_short_is_caught(tmp_path, entry):
    data, media_type = _shared(entry)
    for fraction in CUTS:
        cut = _write(tmp_path, data[: int(len(data) * fraction)])
        assert structure.problem(cut, media_type) is not None, fraction


def test_jpeg_cut_just_before_its_end_marker(tmp_path):
    data = jpeg_bytes(seed=3)
    assert data.endswith(b"\xff\xd9")
    assert "cut short" in structure.problem(_write(tmp_path, data[:-2]), "image/jpeg")


def test_jpeg_with_data_after_its_end_is_whole(tmp_path):
    # Motion photos and some vendors append a video or a trailer after EOI.
    data = jpeg_bytes(seed=3) + b"\x00\x00\x00\x18ftypmp42" + bytes(5000)
    assert structure.problem(_write(tmp_path, data), "image/jpeg") is None


def test_jpeg_whose_exif_thumbnail_is_whole_but_main_image_is_cut(tmp_path):
    # The EXIF thumbnail's own EOI sits in APP1, before the scan: it must not count.
    data = (SHARED_PHOTOS / "exifsamples__jpg__gps__DSCN0010.jpg").read_bytes()
    sos = data.rindex(b"\xff\xda")  # the main image's scan (baseline: the last SOS)
    assert 0 < data.find(b"\xff\xd9") < sos  # the thumbnail's end marker comes first
    cut = _write(tmp_path, data[: sos + 400])
    assert structure.problem(cut, "image/jpeg") is not None


def test_jpeg_without_image_data(tmp_path):
    assert structure.problem(_write(tmp_path, b"\xff\xd8\xff\xd9"), "image/jpeg") is not None


def test_empty_file(tmp_path):
    assert structure.problem(_write(tmp_path, b""), "image/jpeg") == "the file is empty"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


def test_png_with_a_damaged_chunk(tmp_path):
    data = bytearray(_png())
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF
    assert "CRC" in structure.problem(_write(tmp_path, bytes(data)), "image/png")


def test_png_without_iend(tmp_path):
    data = _png()
    assert "IEND" in structure.problem(_write(tmp_path, data[: data.index(b"IEND") - 4]),
                                       "image/png")


def test_heif_box_running_past_the_end(tmp_path):
    ftyp = struct.pack(">I4s4sI4s", 20, b"ftyp", b"heic", 0, b"mif1")
    meta = struct.pack(">I4s", 16, b"meta") + bytes(8)
    mdat = struct.pack(">I4s", 1000, b"mdat") + bytes(100)
    problem = structure.problem(_write(tmp_path, ftyp + meta + mdat), "image/heic")
    assert "mdat" in problem and "past the end" in problem
    whole = ftyp + meta + struct.pack(">I4s", 108, b"mdat") + bytes(100)
    assert structure.problem(_write(tmp_path, whole), "image/heic") is None


def test_tiff_strip_past_the_end(tmp_path):
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(out, "TIFF")
    data = bytearray(out.getvalue())
    assert structure.problem(_write(tmp_path, bytes(data)), "image/tiff") is None
    # One strip, its byte count stored in the directory entry: claim more than the file has.
    order = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack_from(order + "I", data, 4)[0]
    for index in range(struct.unpack_from(order + "H", data, ifd)[0]):
        entry = ifd + 2 + 12 * index
        tag, kind, count = struct.unpack_from(order + "HHI", data, entry)
        if tag == 279:  # StripByteCounts
            assert count == 1 and kind in (3, 4)
            struct.pack_into(order + ("I" if kind == 4 else "H"), data, entry + 8,
                             min(len(data), 0xFFFF))
    problem = structure.problem(_write(tmp_path, bytes(data)), "image/tiff")
    assert problem == "the TIFF image data is cut short"


def test_unknown_media_type_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError):
        structure.problem(_write(tmp_path, b"x"), "image/gif")


def test_crc_helper_agrees_with_zlib():
    # The PNG check relies on zlib's CRC-32 being PNG's CRC (ISO 3309): the IEND constant.
    assert zlib.crc32(b"IEND") == 0xAE426082
