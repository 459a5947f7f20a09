"""Pixel work on evidence photos: clean derivatives, perceptual hashes, thumbnail comparison."""

import io
import os
import threading
from dataclasses import dataclass

import imagehash
import pillow_heif
from PIL import ExifTags, Image, ImageOps

# Large enough for imagehash's 32x32 DCT input to be faithful, small enough to decode fast.
HASH_DECODE_SIDE = 512
# Relative difference of width/height ratios below which two images count as the same shape.
ASPECT_TOLERANCE = 0.02

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)
_heif_lock = threading.Lock()
_heif_registered = False


class ImageDecodeError(Exception):
    """The file is not an image that can be decoded."""


def register_heif() -> None:
    """Let Pillow open HEIC/HEIF files; safe to call any number of times."""
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            pillow_heif.register_heif_opener()
            _heif_registered = True


def make_derivative(
    src_path: str | os.PathLike, dst_path: str | os.PathLike, max_side: int, quality: int = 85
) -> tuple[int, int]:
    """Write an upright RGB JPEG no larger than max_side, with no metadata; return its size."""
    if max_side < 1:
        raise ValueError("max_side must be positive")
    image = _decode(src_path, max_side, upright=True)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # Pillow carries a JPEG comment over from image.info; a derivative must carry nothing.
    image.info.clear()
    image.save(dst_path, "JPEG", quality=quality, optimize=True)
    return image.size


def perceptual_hash(path: str | os.PathLike) -> str | None:
    """pHash of the upright image as 16 hex characters, or None if it cannot be decoded."""
    return analyse_pixels(path).phash


@dataclass(frozen=True)
class PixelAnalysis:
    """What one decode of a photo tells: its pHash and how far its EXIF thumbnail is."""

    phash: str | None
    thumbnail_distance: int | None

    @property
    def decodable(self) -> bool:
        return self.phash is not None


def analyse_pixels(path: str | os.PathLike) -> PixelAnalysis:
    """perceptual_hash and embedded_thumbnail_distance from a single decode of the image.

    Decoding dominates the cost of both, so the main image is decoded once, as stored; the
    thumbnail is compared with that, and a rotated copy of it gives the upright pHash.
    """
    register_heif()
    try:
        with Image.open(path) as image:
            thumbnail_bytes = _exif_thumbnail_bytes(image)
            main = _load_rgb(image, HASH_DECODE_SIDE, upright=False)
    except _DECODE_ERRORS:
        return PixelAnalysis(None, None)
    phash = str(imagehash.phash(_upright(main)))
    return PixelAnalysis(phash, _thumbnail_distance(main, thumbnail_bytes))


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a damaged EXIF block: the pixels as stored are all there is
        return image


def _thumbnail_distance(main: Image.Image, thumbnail_bytes: bytes | None) -> int | None:
    if thumbnail_bytes is None:
        return None
    try:
        with Image.open(io.BytesIO(thumbnail_bytes)) as thumbnail:
            thumb = _load_rgb(thumbnail, HASH_DECODE_SIDE, upright=False)
    except _DECODE_ERRORS:
        return None
    return int(min(  # imagehash answers numpy integers; callers store and serialise it
        imagehash.phash(main_view) - imagehash.phash(thumb_view)
        for main_view, thumb_view in _aligned_views(main, thumb)
    ))


def hash_distance(a: str, b: str) -> int:
    """Hamming distance between two hex hashes of equal length."""
    if len(a) != len(b):
        raise ValueError(f"hashes differ in length: {len(a)} and {len(b)}")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def embedded_thumbnail_distance(path: str | os.PathLike) -> int | None:
    """pHash distance between the EXIF thumbnail and the main image; None if either is missing.

    Both are compared as stored, without applying Orientation, because cameras store the
    thumbnail with the same pixel layout as the main image.
    """
    return analyse_pixels(path).thumbnail_distance


def _aligned_views(main: Image.Image, thumb: Image.Image) -> list[tuple[Image.Image, Image.Image]]:
    """Pairs to compare: as is and, when the shapes differ, with the framing reconciled.

    Cameras fit a fixed-size thumbnail (often 160x120) to a wider photo either by padding it
    with bars or by cropping the photo; comparing both reconciliations avoids flagging a
    genuine file for its framing alone.
    """
    views = [(main, thumb)]
    if abs(_aspect(main) - _aspect(thumb)) > ASPECT_TOLERANCE * _aspect(main):
        views.append((main, _centre_crop(thumb, _aspect(main))))
        views.append((_centre_crop(main, _aspect(thumb)), thumb))
    return views


def _aspect(image: Image.Image) -> float:
    return image.width / image.height


def _centre_crop(image: Image.Image, aspect: float) -> Image.Image:
    width, height = image.size
    if width / height > aspect:
        new_width = max(1, round(height * aspect))
        left = (width - new_width) // 2
        return image.crop((left, 0, left + new_width, height))
    new_height = max(1, round(width / aspect))
    top = (height - new_height) // 2
    return image.crop((0, top, width, top + new_height))


def _exif_thumbnail_bytes(image: Image.Image) -> bytes | None:
    """The JPEG thumbnail stored in the EXIF IFD1 of an opened image, if there is one."""
    tiff = _raw_exif(image)
    if not tiff:
        return None
    try:
        ifd1 = image.getexif().get_ifd(ExifTags.IFD.IFD1)
    except Exception:  # a damaged EXIF block simply has no usable thumbnail
        return None
    offset = ifd1.get(ExifTags.Base.JpegIFOffset)
    length = ifd1.get(ExifTags.Base.JpegIFByteCount)
    if not offset or not length:
        return None
    data = tiff[offset : offset + length]
    return data if data.startswith(b"\xff\xd8") else None


def _raw_exif(image: Image.Image) -> bytes | None:
    """The TIFF structure of the EXIF block, which IFD1's thumbnail offset counts from."""
    raw = image.info.get("exif")
    if raw is None and "Raw profile type exif" in image.info:
        # ImageMagick-style PNG text chunk: three header lines, then hex.
        hex_lines = image.info["Raw profile type exif"].split("\n")[3:]
        try:
            raw = bytes.fromhex("".join(hex_lines))
        except ValueError:
            return None
    if not isinstance(raw, bytes):
        return None
    return raw[6:] if raw.startswith(b"Exif\x00\x00") else raw


def _decode(path: str | os.PathLike, max_side: int, upright: bool) -> Image.Image:
    register_heif()
    try:
        with Image.open(path) as image:
            return _load_rgb(image, max_side, upright)
    except _DECODE_ERRORS as exc:
        raise ImageDecodeError(f"cannot decode {os.fspath(path)!r}: {exc}") from exc


def _load_rgb(image: Image.Image, max_side: int, upright: bool) -> Image.Image:
    """Decode to RGB, letting JPEG decode at a reduced scale no smaller than max_side."""
    # Only JPEG: its draft scales the DCT of the same pixels, whereas pillow-heif's draft
    # swaps in a separately stored thumbnail, which an editor may have left unchanged.
    # A square box keeps the draft symmetric, so a later rotation cannot undershoot max_side.
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))
    if upright:
        image = ImageOps.exif_transpose(image)
    return _to_rgb(image)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = _stretch_to_8_bit(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _stretch_to_8_bit(image: Image.Image) -> Image.Image:
    """Map high-bit-depth greyscale (e.g. thermal TIFF) onto 0..255 so it stays visible."""
    wide = image.convert("F") if image.mode == "F" else image.convert("I")
    low, high = wide.getextrema()
    scale = 255 / (high - low) if high > low else 0
    return wide.point(lambda value: (value - low) * scale).convert("L")
