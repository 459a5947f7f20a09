"""Photos generated in code for tests (the generator itself lives in fieldapp.photogen)."""
from __future__ import annotations

import io
import random

from PIL import Image

from fieldapp.photogen import make_exif, scene

__all__ = ["jpeg_bytes", "make_exif", "scene", "sized_jpeg"]


def jpeg_bytes(seed=1, size=(640, 480), quality=85, **exif_fields) -> bytes:
    out = io.BytesIO()
    scene(seed, size).save(out, "JPEG", quality=quality, exif=make_exif(**exif_fields))
    return out.getvalue()


def sized_jpeg(target_bytes: int, seed=1, **exif_fields) -> bytes:
    """A JPEG of about target_bytes (noise compresses badly, so size follows pixels)."""
    side = 256
    while True:
        rng = random.Random(seed)
        image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90, exif=make_exif(**exif_fields))
        if out.tell() >= target_bytes:
            return out.getvalue()
        side = int(side * max(1.1, (target_bytes / out.tell()) ** 0.5))
