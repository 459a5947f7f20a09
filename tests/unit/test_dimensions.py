"""Declared image sizes, read from headers alone, and the pixel budget that refuses bombs."""
from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from fieldapp.evidence import imaging, media, structure
from tests.bombs import heif_claiming, jpeg_claiming, png_bomb, tiff_claiming
from tests.helpers import SHARED_PHOTOS, shared_reference

REFERENCE = shared_reference()
BUDGET = 100_000_000
BOMBS = {
    "png": (png_bomb, (20000, 20000)),
    "jpeg": (jpeg_claiming, (60000, 60000)),
    "tiff": (tiff_claiming, (20000, 20000)),
    "heif": (heif_claiming, (12000, 12000)),
}


def _write(tmp_path, data: bytes, name="f"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("entry", REFERENCE, ids=[e["file"] for e in REFERENCE])
def test_every_shared_photo_declares_the_size_its_decoder_reports(entry):
    # reference.json has no image sizes (ExifTool's reading there is metadata only), so the
    # reference is the decoder's own header reading: Pillow and pillow-heif.
    path = SHARED_PHOTOS / entry["file"]
    media_type = media.sniff(path.read_bytes()[:64])
    imaging.register_heif()
    with Image.open(path) as image:
        expected = image.size
    declared = structure.dimensions(path, media_type)
    if media_type in ("image/heic", "image/heif"):
        # pillow-heif reports the size after the 'irot' rotation; ispe is before it.
        assert sorted(declared) == sorted(expected)
    else:
        assert declared == expected
    assert structure.pixel_problem(path, media_type, BUDGET) is None


@pytest.mark.parametrize("kind", BOMBS)
def test_bombs_are_whole_small_files_whose_size_is_read_without_decoding(tmp_path, kind):
    make, size = BOMBS[kind]
    data = make()
    assert len(data) < 100_000
    path = _write(tmp_path, data)
    media_type = media.sniff(data[:64])
    # Structurally whole: only the pixel budget tells them apart from a photo.
    assert structure.problem(path, media_type) is None
    assert structure.dimensions(path, media_type) == size
    problem = structure.pixel_problem(path, media_type, BUDGET)
    assert f"{size[0]} x {size[1]}" in problem and "100 MP" in problem
    assert structure.pixel_problem(path, media_type, size[0] * size[1]) is None
    assert structure.pixel_problem(path, media_type, 0) is None  # 0: no budget


@pytest.mark.parametrize("kind", BOMBS)
def test_decoding_a_bomb_is_refused_before_it_starts(tmp_path, kind):
    make, size = BOMBS[kind]
    path = _write(tmp_path, make())
    pixels = imaging.analyse_pixels(path, BUDGET)
    assert pixels.refused and not pixels.decodable
    assert "MP" in pixels.problem and str(tmp_path) not in pixels.problem
    with pytest.raises(imaging.ImageTooLarge):
        imaging.make_derivative(path, tmp_path / "never.jpg", 320, max_pixels=BUDGET)
    assert not (tmp_path / "never.jpg").exists()


def test_the_budget_is_exact(tmp_path):
    path = _write(tmp_path, png_bomb(1000, 500))
    assert imaging.analyse_pixels(path, 500_000).decodable
    refused = imaging.analyse_pixels(path, 499_999)
    assert refused.refused and "1000 x 500" in refused.problem


def test_an_undecodable_file_says_why_without_its_path():
    # A real file whose scan data is damaged: whole by structure, refused by the decoder.
    path = SHARED_PHOTOS / "mdx__jpg__ImageTestSuite__c3018ebe53d0046eecb58858ca869a99.jpg"
    assert structure.problem(path, "image/jpeg") is None
    pixels = imaging.analyse_pixels(path, BUDGET)
    assert not pixels.decodable and not pixels.refused
    assert pixels.problem.startswith("the image cannot be decoded: ")
    assert str(SHARED_PHOTOS) not in pixels.problem


def test_large_images_within_the_budget_are_shrunk_before_conversion(tmp_path):
    # 9000 x 6000 one-bit: converted whole to RGB first, this would be 162 MB; the
    # derivative must still come out right and upright-sized.
    path = _write(tmp_path, png_bomb(9000, 6000))
    width, height = imaging.make_derivative(path, tmp_path / "d.jpg", 320, max_pixels=BUDGET)
    assert width == 320 and abs(height - 320 * 6000 / 9000) <= 1
    assert imaging.analyse_pixels(path, BUDGET).decodable


def test_a_tiff_whose_directories_loop_is_read_once(tmp_path):
    data = bytearray(tiff_claiming(300, 200))
    # Point the first directory's "next directory" offset back at itself.
    count = struct.unpack_from("<H", data, 8)[0]
    struct.pack_into("<I", data, 8 + 2 + 12 * count, 8)
    assert structure.dimensions(_write(tmp_path, bytes(data)), "image/tiff") == (300, 200)


def test_the_largest_tiff_page_counts(tmp_path):
    pages = [Image.new("L", (64, 48)), Image.new("L", (640, 480))]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:])
    assert structure.dimensions(_write(tmp_path, out.getvalue()), "image/tiff") == (640, 480)


def test_headers_without_a_size_declare_none(tmp_path):
    assert structure.dimensions(_write(tmp_path, b"\xff\xd8\xff\xd9"), "image/jpeg") is None
    assert structure.dimensions(_write(tmp_path, b""), "image/png") is None
    assert structure.pixel_problem(_write(tmp_path, b"II*\x00\xff\xff\xff\x7f"),
                                   "image/tiff", BUDGET) is None
