"""Derivatives, perceptual hashes and thumbnail comparison on real and generated images."""

import io
import random
from pathlib import Path

import imagehash
import pytest
from PIL import ExifTags, Image, ImageOps

from fieldapp.evidence.imaging import (
    ImageDecodeError,
    analyse_pixels,
    embedded_thumbnail_distance,
    hash_distance,
    make_derivative,
    perceptual_hash,
    register_heif,
)
from fieldapp.photogen import exif_with_thumbnail

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "photos"
UNDECODABLE = "mdx__jpg__ImageTestSuite__c3018ebe53d0046eecb58858ca869a99.jpg"  # truncated scan
METADATA_MARKERS = (b"Exif\x00\x00", b"ICC_PROFILE", b"http://ns.adobe.com/xap/1.0/")


def _photo(name: str) -> Path:
    path = PHOTOS / name
    # A missing photo set must fail the run, never skip it.
    assert path.is_file(), f"shared photo not found: {path}"
    return path


def _pixel_size(path: Path) -> tuple[int, int]:
    register_heif()
    with Image.open(path) as image:
        return image.size


def _noise_file(path: Path) -> Path:
    path.write_bytes(random.Random(7).randbytes(4096))
    return path


def _jpeg_bytes(image: Image.Image, **save_options) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", **save_options)
    return buffer.getvalue()


def _photo_pixels(name: str, size: tuple[int, int]) -> Image.Image:
    with Image.open(_photo(name)) as image:
        return image.convert("RGB").resize(size)


def _jpeg_with_thumbnail(path: Path, main: Image.Image, thumbnail: Image.Image) -> Path:
    upright = Image.Exif()
    upright[ExifTags.Base.Orientation] = 1
    exif = exif_with_thumbnail(upright, _jpeg_bytes(thumbnail, quality=80))
    main.save(path, "JPEG", exif=exif)
    return path


# --- derivatives ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "max_side"),
    [
        ("exifsamples__heic__IMG_5195.HEIC", 1024),
        ("mdx__heic__Issue_263_dotnet.heic", 640),
        ("mdx__jpg__Apple_iPhone_6.jpg", 800),
        ("kim__full__photo_51.png", 512),
        ("exifr__002.tiff", 256),
        ("exifsamples__jpg__Canon_40D.jpg", 1024),
    ],
)
def test_derivative_is_downscaled_and_carries_no_metadata(tmp_path, name, max_side):
    source = _photo(name)
    original = _pixel_size(source)
    out = tmp_path / "derivative.jpg"

    size = make_derivative(source, out, max_side)

    assert max(size) == min(max(original), max_side)
    assert size[0] / size[1] == pytest.approx(original[0] / original[1], rel=0.02)
    with Image.open(out) as derivative:
        assert derivative.format == "JPEG"
        assert derivative.mode == "RGB"
        assert derivative.size == size
        assert len(derivative.getexif()) == 0
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(derivative.info)
    raw = out.read_bytes()
    assert not [marker for marker in METADATA_MARKERS if marker in raw]


def test_derivative_applies_exif_orientation(tmp_path):
    source = tmp_path / "rotated.jpg"
    stored = Image.new("RGB", (60, 40), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 30, 40))  # left half red as stored
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # display rotated 90 degrees clockwise
    stored.save(source, "JPEG", exif=exif, quality=95)
    out = tmp_path / "upright.jpg"

    size = make_derivative(source, out, 100)

    assert size == (40, 60)
    with Image.open(out) as derivative:
        top_red, _, top_blue = derivative.getpixel((20, 5))
        bottom_red, _, bottom_blue = derivative.getpixel((20, 55))
    assert top_red > 200 > top_blue  # the stored left edge is the displayed top
    assert bottom_blue > 200 > bottom_red


def test_derivative_drops_jpeg_comment(tmp_path):
    source = tmp_path / "commented.jpg"
    Image.new("RGB", (50, 50), "gray").save(source, "JPEG", comment=b"volunteer 42 at home")
    out = tmp_path / "clean.jpg"

    make_derivative(source, out, 50)

    with Image.open(out) as derivative:
        assert "comment" not in derivative.info
    assert b"volunteer 42" not in out.read_bytes()


def test_derivative_of_undecodable_files_raises(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")

    for source in (_noise_file(tmp_path / "noise.jpg"), empty, _photo(UNDECODABLE)):
        with pytest.raises(ImageDecodeError):
            make_derivative(source, tmp_path / "never.jpg", 256)
    assert not (tmp_path / "never.jpg").exists()


@pytest.mark.parametrize("name", ["exifr__heic-iphone7.heic", "mdx__heic__Issue_487.heic"])
def test_heif_pixels_never_come_from_a_stored_thumbnail(tmp_path, monkeypatch, name):
    # pillow-heif's draft() decodes a separately stored thumbnail instead of the photo, and
    # an editor can leave that thumbnail showing the unedited picture.
    source = _photo(name)
    register_heif()
    with Image.open(source) as image:
        heif_class = type(image)

    def refuse(self, mode, size):
        raise AssertionError("draft() would substitute the HEIF thumbnail")

    monkeypatch.setattr(heif_class, "draft", refuse)

    assert max(make_derivative(source, tmp_path / "small.jpg", 128)) == 128
    assert perceptual_hash(source) is not None


def test_register_heif_is_idempotent():
    register_heif()
    register_heif()

    assert _pixel_size(_photo("exifr__heic-iphone7.heic")) == (4032, 3024)


# --- perceptual hashes ------------------------------------------------------------------------


def test_perceptual_hash_is_stable_and_survives_resizing(tmp_path):
    source = _photo("mdx__jpg__Apple_iPhone_6.jpg")
    first, second = perceptual_hash(source), perceptual_hash(source)
    resized = tmp_path / "small.jpg"
    make_derivative(source, resized, 200, quality=60)

    assert first == second
    assert len(first) == 16 and int(first, 16) >= 0
    assert hash_distance(first, perceptual_hash(resized)) <= 4


def test_perceptual_hash_of_a_heic_matches_its_derivative(tmp_path):
    source = _photo("exifr__heic-iphone7.heic")
    resized = tmp_path / "small.jpg"
    make_derivative(source, resized, 320)

    assert hash_distance(perceptual_hash(source), perceptual_hash(resized)) <= 4


def test_perceptual_hash_differs_for_different_pictures():
    first = perceptual_hash(_photo("mdx__jpg__Apple_iPhone_6.jpg"))
    second = perceptual_hash(_photo("exifsamples__jpg__gps__DSCN0010.jpg"))

    assert hash_distance(first, second) >= 16


def test_perceptual_hash_of_undecodable_file_is_none(tmp_path):
    assert perceptual_hash(_noise_file(tmp_path / "noise.jpg")) is None
    assert perceptual_hash(_photo(UNDECODABLE)) is None


def test_hash_distance_counts_differing_bits():
    assert hash_distance("0" * 16, "0" * 16) == 0
    assert hash_distance("0" * 16, "f" * 16) == 64
    assert hash_distance("8000000000000001", "0000000000000000") == 2


def test_hash_distance_rejects_hashes_of_different_length():
    with pytest.raises(ValueError):
        hash_distance("ab", "abcd")


# --- embedded thumbnails ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "exifsamples__jpg__Canon_40D.jpg",
        "exifsamples__jpg__gps__DSCN0010.jpg",
        "mdx__jpg__Apple_iPhone_6.jpg",
        "mdx__jpg__Nikon_D5000.jpg",
        "mdx__jpg__Samsung_GT-I9000_Galaxy_S_.jpg",  # Orientation 6
        "exifpy__jpg__tests__Xiaomi_Mi_9T_KeyError.jpg",  # Orientation 6
        "exifsamples__jpg__tests__45-gps_ifd.jpg",  # 16:9 photo, letterboxed 4:3 thumbnail
        "kim__full__photo_51.png",  # thumbnail inside a PNG text chunk
    ],
)
def test_genuine_camera_thumbnail_is_close_to_the_photo(name):
    assert embedded_thumbnail_distance(_photo(name)) <= 8


@pytest.mark.parametrize("name", ["exifr__noexif.jpg", "exifr__heic-iphone7.heic"])
def test_file_without_exif_thumbnail_has_no_distance(name):
    assert embedded_thumbnail_distance(_photo(name)) is None


def test_undecodable_file_has_no_thumbnail_distance(tmp_path):
    assert embedded_thumbnail_distance(_noise_file(tmp_path / "noise.jpg")) is None


def test_generated_thumbnail_of_the_same_picture_is_close(tmp_path):
    main = _photo_pixels("exifsamples__jpg__gps__DSCN0010.jpg", (640, 480))
    path = _jpeg_with_thumbnail(tmp_path / "honest.jpg", main, main.resize((160, 120)))

    assert embedded_thumbnail_distance(path) <= 4


def test_generated_thumbnail_of_another_picture_is_far(tmp_path):
    main = _photo_pixels("exifsamples__jpg__gps__DSCN0010.jpg", (640, 480))
    other = _photo_pixels("mdx__jpg__Apple_iPhone_6.jpg", (160, 120))
    path = _jpeg_with_thumbnail(tmp_path / "edited.jpg", main, other)

    assert embedded_thumbnail_distance(path) >= 16


@pytest.mark.parametrize("name", sorted(
    p.name for p in PHOTOS.iterdir() if p.suffix.lower() not in (".md", ".json")))
def test_one_decode_gives_the_upright_hash_and_the_thumbnail_distance(name):
    path = _photo(name)
    analysis = analyse_pixels(path)
    assert analysis.decodable is (analysis.phash is not None)
    with Image.open(path) as image:
        eight_bit = image.mode in ("RGB", "RGBA", "L", "P", "CMYK", "YCbCr")
        if analysis.decodable and eight_bit:
            # The hash is of the upright picture, as a derivative shows it.
            upright = ImageOps.exif_transpose(image).convert("RGB")
            upright.thumbnail((512, 512))
            assert hash_distance(analysis.phash, str(imagehash.phash(upright))) <= 6
