"""Pixel work on evidence photos: clean derivatives, perceptual hashes, thumbnail comparison.

Every decode here is guarded by a pixel budget (max_pixels): an image is opened (headers
only), its declared size compared with the budget, and only then decoded. A file of a few
kilobytes can declare 20000 x 20000 pixels; decoded, that is gigabytes, so a photo over the
budget is refused with a sentence saying why (ImageTooLarge), never half-decoded. Within the
budget, large images are shrunk in their own mode before any conversion, so a decode costs
about one copy of the image at most.
"""

import io
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import imagehash
import pillow_heif
from PIL import ExifTags, Image, ImageOps

from fieldapp.evidence import media, structure

# Large enough for imagehash's 32x32 DCT input to be faithful, small enough to decode fast.
HASH_DECODE_SIDE = 512
# Relative difference of width/height ratios below which two images count as the same shape.
ASPECT_TOLERANCE = 0.02

# The default pixel budget (FIELDAPP_MAX_PIXELS): 100 MP covers every ordinary phone and
# camera photo; decoded as RGBA it is 400 MB, the most one decode may take.
DEFAULT_MAX_PIXELS = 100_000_000
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
                  MemoryError)
# Modes Image.reduce works in; "1" is widened to "L" first (the same byte per pixel).
_REDUCIBLE_MODES = {"L", "I", "F", "RGB", "RGBA", "RGBX", "LA", "PA", "CMYK", "YCbCr", "LAB"}
_heif_lock = threading.Lock()
_heif_registered = False


class ImageDecodeError(Exception):
    """The file is not an image that can be decoded."""


class ImageTooLarge(ImageDecodeError):
    """The image declares more pixels than the budget: it was refused before decoding."""


def register_heif() -> None:
    """Let Pillow open HEIC/HEIF files; safe to call any number of times."""
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            pillow_heif.register_heif_opener()
            _heif_registered = True


def make_derivative(
    src_path: str | os.PathLike, dst_path: str | os.PathLike, max_side: int, quality: int = 85,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[int, int]:
    """Write an upright RGB JPEG no larger than max_side, with no metadata; return its size.

    Raises ImageTooLarge for an image over max_pixels, ImageDecodeError for one that cannot
    be decoded.
    """
    if max_side < 1:
        raise ValueError("max_side must be positive")
    image = _decode(src_path, max_side, upright=True, max_pixels=max_pixels)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # Pillow carries a JPEG comment over from image.info; a derivative must carry nothing.
    image.info.clear()
    image.save(dst_path, "JPEG", quality=quality, optimize=True)
    return image.size


def make_placeholder(dst_path: str | os.PathLike, max_side: int) -> None:
    """Write the JPEG shown in place of a photo that cannot be rendered: a grey square
    crossed out, with no text (it must read the same in every language of a dossier)."""
    from PIL import ImageDraw

    side = max(16, max_side)
    image = Image.new("RGB", (side, side), (225, 225, 225))
    draw = ImageDraw.Draw(image)
    width = max(1, side // 64)
    draw.rectangle((0, 0, side - 1, side - 1), outline=(150, 150, 150), width=width)
    draw.line((0, 0, side - 1, side - 1), fill=(150, 150, 150), width=width)
    draw.line((0, side - 1, side - 1, 0), fill=(150, 150, 150), width=width)
    image.save(dst_path, "JPEG", quality=80)


def perceptual_hash(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> str | None:
    """pHash of the upright image as 16 hex characters, or None if it cannot be decoded."""
    return analyse_pixels(path, max_pixels).phash


@dataclass(frozen=True)
class PixelAnalysis:
    """What one decode of a photo tells: its pHash and how far its EXIF thumbnail is.

    Without a pHash, problem says why; refused means the image was never decoded (over the
    pixel budget), as opposed to a decode that failed.
    """

    phash: str | None
    thumbnail_distance: int | None
    problem: str | None = None
    refused: bool = False
    # The pHashes of the upright image turned and mirrored (the seven other ways a picture
    # can be laid out): a recycled photo whose Orientation tag was changed, or whose pixels
    # were flipped or rotated, shows the same scene yet has an unrelated pHash.
    turned_hashes: tuple[str, ...] = ()

    @property
    def decodable(self) -> bool:
        return self.phash is not None


def analyse_pixels(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS
                   ) -> PixelAnalysis:
    """perceptual_hash and embedded_thumbnail_distance from a single decode of the image.

    Decoding dominates the cost of both, so the main image is decoded once, as stored; the
    thumbnail is compared with that, and a rotated copy of it gives the upright pHash.
    """
    try:
        with open_within(path, max_pixels) as image:
            thumbnail_bytes = _exif_thumbnail_bytes(image)
            main = _load_rgb(image, HASH_DECODE_SIDE, upright=False)
    except ImageTooLarge as exc:
        return PixelAnalysis(None, None, str(exc), refused=True)
    except _DECODE_ERRORS as exc:
        return PixelAnalysis(None, None, f"the image cannot be decoded: {_reason(exc)}")
    upright = _upright(main)
    phash = str(imagehash.phash(upright))
    return PixelAnalysis(phash, _thumbnail_distance(main, thumbnail_bytes, max_pixels),
                         turned_hashes=tuple(str(imagehash.phash(upright.transpose(method)))
                                             for method in _TURNS))


# Every layout of a picture but its own: three rotations, and the mirror image of each.
_TURNS = (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270,
          Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM,
          Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE)


@contextmanager
def open_within(source, max_pixels: int = DEFAULT_MAX_PIXELS):
    """Image.open, refusing (ImageTooLarge) an image that declares more than max_pixels.

    Opening reads only the headers; the size it reports is what decoding would allocate.
    A file is first measured by evidence.structure, which sees every image it declares.
    """
    register_heif()
    _raise_pillow_guard(max_pixels)
    if isinstance(source, str | os.PathLike) and max_pixels > 0:
        with open(source, "rb") as handle:
            media_type = media.sniff(handle.read(64))
        if media_type is not None:
            problem = structure.pixel_problem(source, media_type, max_pixels)
            if problem:
                raise ImageTooLarge(problem)
    try:
        with Image.open(source) as image:
            problem = structure.budget_problem(image.size, max_pixels) if max_pixels > 0 \
                else None
            if problem:
                raise ImageTooLarge(problem)
            yield image
    except Image.DecompressionBombError as exc:  # Pillow's own guard, at twice its limit
        raise ImageTooLarge(f"the image declares more than twice the {max_pixels / 1e6:g} MP "
                            "this server decodes") from exc


def _raise_pillow_guard(max_pixels: int) -> None:
    """Pillow's own guard (it refuses images over twice MAX_IMAGE_PIXELS wherever they are
    opened, by any code in this process) is raised to the budget when the budget is larger,
    never lowered: the budget above is the strict check, Pillow's the net behind it."""
    if max_pixels > 0 and Image.MAX_IMAGE_PIXELS is not None \
            and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


def _reason(exc: BaseException) -> str:
    """A decoder's complaint without the file's path (stored photos' paths stay private)."""
    if isinstance(exc, MemoryError):
        return "decoding it ran out of memory"
    text = str(exc.args[0]) if isinstance(exc, OSError) and exc.args else str(exc)
    return text.split(" '/")[0].strip() or type(exc).__name__


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a damaged EXIF block: the pixels as stored are all there is
        return image


def _thumbnail_distance(main: Image.Image, thumbnail_bytes: bytes | None,
                        max_pixels: int) -> int | None:
    if thumbnail_bytes is None:
        return None
    try:
        # A thumbnail can be a bomb too: it gets the same budget as the image.
        with open_within(io.BytesIO(thumbnail_bytes), max_pixels) as thumbnail:
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


def embedded_thumbnail_distance(path: str | os.PathLike,
                                max_pixels: int = DEFAULT_MAX_PIXELS) -> int | None:
    """pHash distance between the EXIF thumbnail and the main image; None if either is missing.

    Both are compared as stored, without applying Orientation, because cameras store the
    thumbnail with the same pixel layout as the main image.
    """
    return analyse_pixels(path, max_pixels).thumbnail_distance


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


def _decode(path: str | os.PathLike, max_side: int, upright: bool,
            max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    try:
        with open_within(path, max_pixels) as image:
            return _load_rgb(image, max_side, upright)
    except _DECODE_ERRORS as exc:
        raise ImageDecodeError(f"the image cannot be decoded: {_reason(exc)}") from exc


def _load_rgb(image: Image.Image, max_side: int, upright: bool) -> Image.Image:
    """Decode to RGB, letting JPEG decode at a reduced scale no smaller than max_side."""
    # Only JPEG: its draft scales the DCT of the same pixels, whereas pillow-heif's draft
    # swaps in a separately stored thumbnail, which an editor may have left unchanged.
    # A square box keeps the draft symmetric, so a later rotation cannot undershoot max_side.
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))
    # Shrink in the image's own mode before rotating or converting, each of which copies
    # the whole image (a 100 MP RGBA photo is 400 MB a copy).
    shrunk = _shrink(image, max_side)
    if upright:
        shrunk = _transpose_as(image, shrunk)
    return _to_rgb(shrunk)


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    """The image reduced by a whole factor that keeps its longer side at 2 x max_side or
    more (room for a good final resampling), or the image itself when that is 1."""
    factor = max(image.size) // (2 * max_side)
    if factor < 2:
        return image
    if image.mode == "1":
        image = image.convert("L")
    if image.mode not in _REDUCIBLE_MODES:
        return image
    return image.reduce(factor)


def _transpose_as(original: Image.Image, image: Image.Image) -> Image.Image:
    """Apply the original's EXIF Orientation to image (perhaps a reduced copy of it)."""
    if image is original:
        return ImageOps.exif_transpose(image)
    try:
        orientation = original.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a damaged EXIF block: the pixels as stored are all there is
        return image
    method = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}.get(orientation)
    return image.transpose(method) if method is not None else image


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
