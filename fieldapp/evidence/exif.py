"""Read a photo's camera metadata (EXIF, GPS, XMP creator tool) without trusting it.

`read_metadata` never raises: every reader failure and every rejected GPS value is recorded
in the result, because a lawyer must later be able to see why a location was or was not used.
"""

import logging
import math
import mmap
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from html import unescape
from typing import Any

import exifread
from PIL import ExifTags, Image

from fieldapp.evidence import structure
from fieldapp.evidence.imaging import register_heif

# Beyond these the altitude is an overflow or a unit mix-up, not a place on Earth.
MAX_ALTITUDE_M = 100_000
MIN_ALTITUDE_M = -1_000

TEXT_FIELDS = ("make", "model", "software", "processing_software", "offset_time_original")
DATETIME_FIELDS = ("datetime_original", "datetime")

_EXIFREAD_KEYS = {
    "make": "Image Make",
    "model": "Image Model",
    "software": "Image Software",
    "processing_software": "Image ProcessingSoftware",
    "datetime": "Image DateTime",
    "orientation": "Image Orientation",
    "datetime_original": "EXIF DateTimeOriginal",
    "offset_time_original": "EXIF OffsetTimeOriginal",
}
_EXIFREAD_GPS_KEYS = {
    "lat_ref": "GPS GPSLatitudeRef",
    "lat": "GPS GPSLatitude",
    "lon_ref": "GPS GPSLongitudeRef",
    "lon": "GPS GPSLongitude",
    "alt_ref": "GPS GPSAltitudeRef",
    "alt": "GPS GPSAltitude",
    "time": "GPS GPSTimeStamp",
    "date": "GPS GPSDate",
}
_PILLOW_IFD0_TAGS = {
    "make": ExifTags.Base.Make,
    "model": ExifTags.Base.Model,
    "software": ExifTags.Base.Software,
    "processing_software": ExifTags.Base.ProcessingSoftware,
    "datetime": ExifTags.Base.DateTime,
    "orientation": ExifTags.Base.Orientation,
}
_PILLOW_EXIF_IFD_TAGS = {
    "datetime_original": ExifTags.Base.DateTimeOriginal,
    "offset_time_original": ExifTags.Base.OffsetTimeOriginal,
}
_PILLOW_GPS_TAGS = {
    "lat_ref": ExifTags.GPS.GPSLatitudeRef,
    "lat": ExifTags.GPS.GPSLatitude,
    "lon_ref": ExifTags.GPS.GPSLongitudeRef,
    "lon": ExifTags.GPS.GPSLongitude,
    "alt_ref": ExifTags.GPS.GPSAltitudeRef,
    "alt": ExifTags.GPS.GPSAltitude,
    "time": ExifTags.GPS.GPSTimeStamp,
    "date": ExifTags.GPS.GPSDateStamp,
}

_CREATOR_TOOL = re.compile(
    rb"(?:xmp|xap):CreatorTool\s*(?:=\s*\"([^\"<]*)\"|=\s*'([^'<]*)'|>([^<]*)</)"
)
_CREATOR_TOOL_NAME = b"CreatorTool"
# xmpMM:History's events name the software of each change (stEvt:softwareAgent).
_SOFTWARE_AGENT = re.compile(
    rb"stEvt:softwareAgent\s*(?:=\s*\"([^\"<]*)\"|=\s*'([^'<]*)'|>([^<]*)</)"
)
_SOFTWARE_AGENT_NAME = b"softwareAgent"
_MAX_SOFTWARE_AGENTS = 50  # distinct agents kept; a longer history adds no new editor
_CREATOR_TOOL_SPAN = 4096  # how far past the name the value may end
_GPS_DATE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})")


class _InvalidValue(ValueError):
    """A metadata value that cannot be used as written."""


@dataclass
class _Fields:
    """What one reader found, before validation."""

    make: str | None = None
    model: str | None = None
    software: str | None = None
    processing_software: str | None = None
    datetime_original: str | None = None
    offset_time_original: str | None = None
    datetime: str | None = None
    orientation: int | None = None
    has_thumbnail: bool = False
    gps_block: bool = False
    gps: dict[str, Any] = field(default_factory=dict)

    def fill_gaps_from(self, other: "_Fields") -> None:
        """Take from `other` whatever this reader missed; GPS only as a whole block."""
        for name in (*TEXT_FIELDS, *DATETIME_FIELDS, "orientation"):
            if getattr(self, name) is None:
                setattr(self, name, getattr(other, name))
        self.has_thumbnail = self.has_thumbnail or other.has_thumbnail
        if not self.gps and other.gps:
            self.gps = other.gps
        self.gps_block = self.gps_block or other.gps_block


def read_metadata(path: str | os.PathLike) -> dict:
    """Read EXIF/GPS/XMP metadata from an image file; never raises, records every failure."""
    errors: list[str] = []
    from_exifread = _read_with_exifread(path, errors)
    from_pillow, size = _read_with_pillow(path, errors)
    found, reader = _combine(from_exifread, from_pillow)
    if reader is None:
        errors.append("no EXIF metadata found")
    gps_problems: list[str] = []
    try:
        gps = _parse_gps(found.gps, gps_problems, block_present=found.gps_block)
    except Exception as exc:  # a value shape no camera writes must not sink the whole reading
        gps_problems.append(f"GPS block unreadable: {_describe(exc)}")
        gps = None
    creator_tool, history_agents = _read_xmp_tools(path, errors)
    return {
        "reader": reader,
        "make": found.make,
        "model": found.model,
        "software": found.software,
        "processing_software": found.processing_software,
        "creator_tool": creator_tool,
        "history_software_agents": history_agents,
        "datetime_original": found.datetime_original,
        "offset_time_original": found.offset_time_original,
        "datetime": found.datetime,
        "gps": gps,
        "gps_problems": gps_problems,
        "width": size[0] if size else None,
        "height": size[1] if size else None,
        "orientation": found.orientation,
        "has_thumbnail": found.has_thumbnail,
        "errors": errors,
    }


def _combine(
    from_exifread: _Fields | None, from_pillow: _Fields | None
) -> tuple[_Fields, str | None]:
    if from_exifread is not None:
        if from_pillow is not None:
            from_exifread.fill_gaps_from(from_pillow)
        return from_exifread, "exifread"
    if from_pillow is not None:
        return from_pillow, "pillow"
    return _Fields(), None


# --- exifread -------------------------------------------------------------------------------


def _read_with_exifread(path: str | os.PathLike, errors: list[str]) -> _Fields | None:
    """Fields found by exifread, or None when it found no EXIF tags."""
    warnings: list[str] = []
    try:
        with open(path, "rb") as fh, _exifread_warnings(warnings):
            tags = exifread.process_file(fh, details=False)
    except Exception as exc:  # a hostile file may break a reader in any way
        warnings.append(_describe(exc))
        tags = {}
    errors.extend(f"exifread: {message}" for message in warnings)
    if not tags:
        return None
    found = _Fields(
        has_thumbnail=bool(tags.get("JPEGThumbnail") or tags.get("TIFFThumbnail")),
        gps_block="Image GPSInfo" in tags or any(key.startswith("GPS ") for key in tags),
    )
    for name, key in _EXIFREAD_KEYS.items():
        if key in tags:
            setattr(found, name, _field_value(name, tags[key].values))
    found.gps = {name: tags[key].values for name, key in _EXIFREAD_GPS_KEYS.items() if key in tags}
    return found


@contextmanager
def _exifread_warnings(messages: list[str]) -> Iterator[None]:
    """Collect what exifread logs as warnings in this thread: it logs damage rather than raise."""
    handler = _ThreadLogCollector(messages)
    logger = logging.getLogger("exifread")
    # logging.config.fileConfig (alembic, gunicorn configs) disables loggers that already
    # exist; this reader relies on exifread's warnings, so it switches its logger back on.
    logger.disabled = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


class _ThreadLogCollector(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.messages = messages
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


# --- Pillow ---------------------------------------------------------------------------------


def _read_with_pillow(
    path: str | os.PathLike, errors: list[str]
) -> tuple[_Fields | None, tuple[int, int] | None]:
    """Fields found by Pillow (None when it found no EXIF) and the decoded pixel size."""
    register_heif()
    try:
        with Image.open(path) as image:
            size = image.size
            return _pillow_fields(image, errors), size
    except Exception as exc:  # a hostile file may break a reader in any way
        errors.append(f"pillow: {_describe(exc)}")
        return None, None


def _pillow_fields(image: Image.Image, errors: list[str]) -> _Fields | None:
    try:
        exif = image.getexif()
    except Exception as exc:
        errors.append(f"pillow: EXIF unreadable: {_describe(exc)}")
        return None
    if not exif:
        return None
    found = _Fields(gps_block=ExifTags.IFD.GPSInfo in exif)
    for name, tag in _PILLOW_IFD0_TAGS.items():
        if tag in exif:
            setattr(found, name, _field_value(name, exif[tag]))
    exif_ifd = _pillow_ifd(exif, ExifTags.IFD.Exif, errors)
    for name, tag in _PILLOW_EXIF_IFD_TAGS.items():
        if tag in exif_ifd:
            setattr(found, name, _field_value(name, exif_ifd[tag]))
    gps_ifd = _pillow_ifd(exif, ExifTags.IFD.GPSInfo, errors)
    found.gps = {name: gps_ifd[tag] for name, tag in _PILLOW_GPS_TAGS.items() if tag in gps_ifd}
    thumbnail = _pillow_ifd(exif, ExifTags.IFD.IFD1, errors)
    found.has_thumbnail = bool(
        thumbnail.get(ExifTags.Base.JpegIFOffset) and thumbnail.get(ExifTags.Base.JpegIFByteCount)
    )
    return found


def _pillow_ifd(exif: Image.Exif, ifd: int, errors: list[str]) -> dict:
    try:
        return dict(exif.get_ifd(ifd))
    except Exception as exc:
        errors.append(f"pillow: IFD {ifd:#x} unreadable: {_describe(exc)}")
        return {}


# --- values ---------------------------------------------------------------------------------


def _field_value(name: str, value: Any) -> str | int | None:
    if name == "orientation":
        return _orientation(value)
    if name in DATETIME_FIELDS:
        return _clean_datetime(value)
    return _clean_text(value)


def _clean_text(value: Any) -> str | None:
    """An EXIF ASCII value as text: cut at the first NUL, stripped, None when empty."""
    if value is None:
        return None
    if isinstance(value, list | tuple) and all(isinstance(v, int) for v in value):
        value = bytes(v & 0xFF for v in value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value).split("\x00", 1)[0].strip()
    return text or None


def _clean_datetime(value: Any) -> str | None:
    text = _clean_text(value)
    # "0000:00:00 00:00:00" and "    :  :     :  :  " are how cameras write "unknown".
    if text is None or not any(ch in "123456789" for ch in text):
        return None
    return text


def _orientation(value: Any) -> int | None:
    try:
        number = _first_int(value)
    except _InvalidValue:
        return None
    return number if number is not None and 1 <= number <= 8 else None


def _first_int(value: Any) -> int | None:
    """First integer of a BYTE/SHORT value however the reader delivered it."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value[0] if value else None
    if isinstance(value, list | tuple):
        return _first_int(value[0]) if value else None
    if isinstance(value, str):
        text = _clean_text(value)
        if text is None:
            return None
        if not text.isdigit():
            raise _InvalidValue(f"{text!r} is not a number")
        return int(text)
    if isinstance(value, int):
        return value
    raise _InvalidValue(f"{value!r} is not an integer")


def _to_fraction(value: Any) -> Fraction:
    """An exact rational from an exifread Ratio, a Pillow IFDRational, an int or a float."""
    if isinstance(value, bool):
        raise _InvalidValue(f"{value!r} is not a number")
    if isinstance(value, int):
        return Fraction(value)
    numerator = getattr(value, "numerator", None)
    denominator = getattr(value, "denominator", None)
    if numerator is not None and denominator is not None:
        if denominator == 0:
            raise _InvalidValue(f"{numerator}/0 rational (zero denominator)")
        return _to_fraction(numerator) / _to_fraction(denominator)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _InvalidValue(f"{value} is not a number")
        return Fraction(value)
    raise _InvalidValue(f"{value!r} is not a number")


def _fractions(value: Any) -> list[Fraction]:
    items = list(value) if isinstance(value, list | tuple) else [value]
    return [_to_fraction(item) for item in items]


# --- GPS ------------------------------------------------------------------------------------


def _parse_gps(raw: dict[str, Any], problems: list[str], block_present: bool = True) -> dict | None:
    """Validate raw GPS tag values into {lat, lon, alt, timestamp}, or None with problems noted.

    `raw` holds reader values under lat_ref, lat, lon_ref, lon, alt_ref, alt, date, time.
    """
    if "lat" not in raw and "lon" not in raw:
        if block_present:
            problems.append("GPS block has no latitude/longitude")
        return None
    lat = _coordinate(raw, "lat", "GPSLatitude", ("N", "S"), 90, problems)
    lon = _coordinate(raw, "lon", "GPSLongitude", ("E", "W"), 180, problems)
    if lat is None or lon is None:
        return None
    if lat == 0 and lon == 0:
        problems.append("GPS position 0,0 is a placeholder written without a fix; not used")
        return None
    return {
        "lat": float(lat),
        "lon": float(lon),
        "alt": _altitude(raw, problems),
        "timestamp": _gps_timestamp(raw, problems),
    }


def _coordinate(
    raw: dict[str, Any],
    key: str,
    label: str,
    hemispheres: tuple[str, str],
    limit: int,
    problems: list[str],
) -> Fraction | None:
    """Signed decimal degrees from degrees/minutes/seconds rationals and their reference."""
    if key not in raw:
        problems.append(f"{label} missing; position not used")
        return None
    try:
        degrees = _degrees(raw[key])
    except _InvalidValue as exc:
        problems.append(f"{label} unreadable: {exc}; position not used")
        return None
    ref = _clean_text(raw.get(f"{key}_ref"))
    ref = ref.upper() if ref else None
    if ref not in hemispheres:
        found = "missing" if ref is None else f"{ref!r} is not {'/'.join(hemispheres)}"
        problems.append(f"{label}Ref {found}; position not used")
        return None
    signed = -degrees if ref == hemispheres[1] else degrees
    if abs(signed) > limit:
        problems.append(f"{label} {float(signed):.6f} is beyond ±{limit}; position not used")
        return None
    return signed


def _degrees(value: Any) -> Fraction:
    parts = _fractions(value)
    if not 1 <= len(parts) <= 3:
        raise _InvalidValue(f"{len(parts)} values instead of degrees, minutes, seconds")
    if any(part < 0 for part in parts):
        raise _InvalidValue("negative degrees/minutes/seconds")
    return sum((part / 60**index for index, part in enumerate(parts)), Fraction(0))


def _altitude(raw: dict[str, Any], problems: list[str]) -> float | None:
    if "alt" not in raw:
        return None
    try:
        altitude = _single(raw["alt"])
        ref = _first_int(raw.get("alt_ref"))
    except _InvalidValue as exc:
        problems.append(f"GPSAltitude unreadable: {exc}; altitude not used")
        return None
    if ref not in (None, 0, 1):
        problems.append(f"GPSAltitudeRef {ref} is neither 0 nor 1; altitude not used")
        return None
    if ref == 1:
        altitude = -altitude
    if not MIN_ALTITUDE_M <= altitude <= MAX_ALTITUDE_M:
        problems.append(
            f"GPSAltitude {float(altitude):.1f} m is outside "
            f"{MIN_ALTITUDE_M}..{MAX_ALTITUDE_M} m; altitude not used"
        )
        return None
    return float(altitude)


def _single(value: Any) -> Fraction:
    parts = _fractions(value)
    if len(parts) != 1:
        raise _InvalidValue(f"{len(parts)} values instead of one")
    return parts[0]


def _gps_timestamp(raw: dict[str, Any], problems: list[str]) -> str | None:
    """GPSDateStamp + GPSTimeStamp as an ISO 8601 UTC string."""
    date_text = _clean_text(raw.get("date"))
    time_value = raw.get("time")
    if date_text is None and time_value is None:
        return None
    if date_text is None:
        problems.append("GPSTimeStamp without GPSDateStamp; GPS time not used")
        return None
    if time_value is None:
        problems.append("GPSDateStamp without GPSTimeStamp; GPS time not used")
        return None
    try:
        day = _gps_date(date_text)
        seconds = _gps_seconds_of_day(time_value)
    except _InvalidValue as exc:
        problems.append(f"{exc}; GPS time not used")
        return None
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return (midnight + timedelta(microseconds=round(seconds * 1_000_000))).isoformat()


def _gps_date(text: str) -> date:
    match = _GPS_DATE.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        return date(*(int(part) for part in match.groups()))
    except ValueError as exc:
        raise _InvalidValue(f"GPSDateStamp {text!r} is malformed") from exc


def _gps_seconds_of_day(value: Any) -> Fraction:
    try:
        hours, minutes, seconds = _fractions(value)
    except (_InvalidValue, ValueError) as exc:
        raise _InvalidValue(f"GPSTimeStamp {value!r} is malformed") from exc
    # 60 s is allowed for a leap second.
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 61):
        raise _InvalidValue(f"GPSTimeStamp {hours}:{minutes}:{seconds} is out of range")
    return hours * 3600 + minutes * 60 + seconds


# --- XMP ------------------------------------------------------------------------------------


def _read_xmp_tools(path: str | os.PathLike, errors: list[str]) -> tuple[str | None, list[str]]:
    """xmp:CreatorTool from the first XMP packet that names one, and every distinct
    stEvt:softwareAgent of the XMP history, anywhere XMP may be in the file."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return None, []
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                end = _xmp_search_end(data)
                return _scan_creator_tool(data, end), _scan_software_agents(data, end)
    except Exception as exc:
        errors.append(f"xmp: {_describe(exc)}")
        return None, []


def _xmp_search_end(data) -> int:
    """Where XMP can no longer start: a JPEG keeps it in APP1 segments, before the pixels;
    other formats may put it anywhere (HEIC writers often after the pixels)."""
    scan, _ = structure.jpeg_scan_start(data)
    return scan if scan is not None else len(data)


def _scan_creator_tool(data, end: int | None = None) -> str | None:
    return next(_scan_xmp_values(data, _CREATOR_TOOL_NAME, len(b"xmp:"), _CREATOR_TOOL,
                                 end), None)


def _scan_software_agents(data, end: int | None = None) -> list[str]:
    agents: list[str] = []
    for agent in _scan_xmp_values(data, _SOFTWARE_AGENT_NAME, len(b"stEvt:"),
                                  _SOFTWARE_AGENT, end):
        if agent not in agents:
            agents.append(agent)
            if len(agents) == _MAX_SOFTWARE_AGENTS:
                break
    return agents


def _scan_xmp_values(data, name: bytes, prefix: int, pattern: re.Pattern,
                     end: int | None = None) -> Iterator[str]:
    """The non-empty values of one XMP property, in file order, up to end."""
    # A plain find for the property name runs at memory speed; the pattern is only tried
    # where the name occurs.
    end = len(data) if end is None else end
    at = data.find(name, 0, end)
    while at >= 0:
        match = pattern.match(data, max(0, at - prefix), at + _CREATOR_TOOL_SPAN)
        if match:
            raw = next(group for group in match.groups() if group is not None)
            value = _clean_text(unescape(raw.decode("utf-8", errors="replace")))
            if value:
                yield value
        at = data.find(name, at + 1, end)


def _describe(exc: BaseException) -> str:
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
