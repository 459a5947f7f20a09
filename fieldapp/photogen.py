"""Generated photos with the EXIF a phone writes (GPS included), for the demo and benchmarks."""
from __future__ import annotations

import io
import random
import struct
from datetime import UTC, datetime
from fractions import Fraction

from PIL import Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational

GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def _dms(value: float) -> tuple:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction((value - degrees - minutes / 60) * 3600).limit_denominator(1_000_000)
    return (IFDRational(degrees, 1), IFDRational(minutes, 1),
            IFDRational(seconds.numerator, seconds.denominator))


def scene(seed: int, size=(640, 480)) -> Image.Image:
    """A picture that differs visibly from one seed to another."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = x0 + rng.randrange(20, size[0] // 2), y0 + rng.randrange(20, size[1] // 2)
        draw.rectangle((x0, y0, x1, y1), fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


def make_exif(lat=None, lon=None, taken: datetime | None = None, make="Xiaomi",
              model="Redmi Note 12", software=None, modified: datetime | None = None,
              alt: float | None = None, gps_time: datetime | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    if software:
        exif[0x0131] = software
    if taken is not None:
        sub = exif.get_ifd(EXIF_IFD)
        sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
        if taken.tzinfo is not None:
            offset = taken.strftime("%z")
            sub[0x9011] = f"{offset[:3]}:{offset[3:]}"
        exif[0x0132] = (modified or taken).strftime("%Y:%m:%d %H:%M:%S")
    if lat is not None and lon is not None:
        gps = exif.get_ifd(GPS_IFD)
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
        if alt is not None:
            gps[5], gps[6] = (0 if alt >= 0 else 1), IFDRational(round(abs(alt) * 100), 100)
        if gps_time is not None:
            utc = gps_time.astimezone(UTC) if gps_time.tzinfo else gps_time
            gps[7] = (IFDRational(utc.hour, 1), IFDRational(utc.minute, 1),
                      IFDRational(utc.second, 1))
            gps[29] = utc.strftime("%Y:%m:%d")
    return exif


THUMBNAIL_PIXELS = (160, 120)  # the EXIF thumbnail size phones write


def exif_with_thumbnail(exif: Image.Exif, thumbnail: bytes) -> bytes:
    """The EXIF block with a JPEG thumbnail in IFD1, as every phone writes one.

    Pillow writes IFD0 (and its EXIF and GPS sub-IFDs) but not IFD1, so IFD1 is appended by
    hand and IFD0's next-IFD pointer aimed at it.
    """
    tiff = bytearray(exif.tobytes()[len(b"Exif\0\0"):])
    order = "<" if tiff[:2] == b"II" else ">"
    ifd0 = struct.unpack_from(order + "I", tiff, 4)[0]
    entries = struct.unpack_from(order + "H", tiff, ifd0)[0]
    if len(tiff) % 2:
        tiff.append(0)  # TIFF wants IFDs on word boundaries
    ifd1 = len(tiff)
    struct.pack_into(order + "I", tiff, ifd0 + 2 + 12 * entries, ifd1)
    thumbnail_at = ifd1 + 2 + 3 * 12 + 4
    tiff += struct.pack(order + "H", 3)
    tiff += struct.pack(order + "HHIHH", 0x0103, 3, 1, 6, 0)  # Compression: JPEG
    tiff += struct.pack(order + "HHII", 0x0201, 4, 1, thumbnail_at)  # JPEGInterchangeFormat
    tiff += struct.pack(order + "HHII", 0x0202, 4, 1, len(thumbnail))  # ...Length
    tiff += struct.pack(order + "I", 0) + thumbnail
    return b"Exif\0\0" + bytes(tiff)


def phone_jpeg(image: Image.Image, exif: Image.Exif, thumbnail_of: Image.Image | None = None,
               quality: int = 88, **options) -> bytes:
    """The image as a phone stores it: EXIF with a thumbnail of the same picture (or, to
    imitate an edit the thumbnail did not follow, of thumbnail_of)."""
    small = (thumbnail_of or image).resize(THUMBNAIL_PIXELS, Image.Resampling.BILINEAR,
                                           reducing_gap=2.0)
    thumbnail = io.BytesIO()
    small.save(thumbnail, "JPEG", quality=75)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif_with_thumbnail(exif, thumbnail.getvalue()),
               quality=quality, **options)
    return out.getvalue()



def padded_jpeg(jpeg: bytes, target_bytes: int, seed: int = 1) -> bytes:
    """The JPEG grown to target_bytes by APP15 segments of noise placed after its own APP
    segments (JFIF, EXIF): still whole and decodable, its EXIF still read, and as large as a
    phone's biggest photos without the minutes it takes to encode that many pixels."""
    end = 2
    while 0xE0 <= jpeg[end + 1] <= 0xEF:
        end += 2 + struct.unpack(">H", jpeg[end + 2:end + 4])[0]
    rng, padding, room = random.Random(seed), bytearray(), target_bytes - len(jpeg)
    while room > 4:
        size = min(65533, room - 4)
        padding += b"\xff\xef" + struct.pack(">H", size + 2) + rng.randbytes(size)
        room -= size + 4
    return jpeg[:end] + bytes(padding) + jpeg[end:]
