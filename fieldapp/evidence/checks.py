"""Named checks of a photo's metadata against the claim it was submitted with.

Pure: the inputs are the metadata dict read by ``fieldapp.evidence.exif``, the volunteer's
claim, the time the server received the photo, and what the service found in the database
(``Found``). The output is a list of named checks, in a fixed order, and a verdict.

Each check's result is one of:
- ``pass``: the file supports the claim on this point;
- ``warn``: something a reviewer should look at, but not proof of a false claim;
- ``fail``: the file contradicts the claim, or the photo is already evidence elsewhere;
- ``unknown``: the file lacks what the check needs, or holds it in malformed form.
Malformed metadata never raises; it yields ``unknown`` with a detail saying what was wrong.

Verdict rule:
- ``inconsistent`` if any check fails;
- otherwise ``needs_review`` if any check warns, or if ``gps_matches_claim`` or
  ``time_matches_claim`` is unknown (nothing in the file corroborates the claimed place or
  time), or if the pixels could not be read (``Found.pixels_problem``: nothing shows the
  picture is not a recycled or edited one, and nobody can look at it);
- otherwise ``consistent``.
"""

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fieldapp.geo.coordinates import CRS_CHOICES, distance_m, to_wgs84, valid_wgs84

CHECK_NAMES = (
    "metadata_present",
    "gps_present",
    "gps_matches_claim",
    "time_matches_claim",
    "not_in_future",
    "gps_time_consistent",
    "editing_software",
    "modified_after_capture",
    "duplicate",
    "near_duplicate",
    "thumbnail_matches",
)

# Without one of these the claim rests on the volunteer's word alone.
CORROBORATING_CHECKS = ("gps_matches_claim", "time_matches_claim")

# Matched as case-insensitive substrings of EXIF Software and ProcessingSoftware, XMP
# CreatorTool and the XMP history's softwareAgent. Only names unlikely to occur inside
# unrelated words, so a phone's own firmware string never matches.
DEFAULT_EDITORS = (
    "photoshop",
    "lightroom",
    "gimp",
    "snapseed",
    "meitu",
    "美图",
    "美颜相机",
    "beautycam",
    "picsart",
    "paint.net",
    "pixelmator",
    "affinity",
    "picasa",
    "vsco",
    "faceapp",
    "facetune",
    "醒图",
    "黄油相机",
    "天天p图",
    "remini",
    "airbrush",
    "polarr",
    "pixlr",
    "photopea",
    "luminar",
    "darktable",
    "rawtherapee",
    "capture one",
    "acdsee",
    "photoscape",
    "photodirector",
    "inshot",
    "fotor",
    "paintshop",
    "krita",
)

CRS_LABELS = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}

SOURCE_DATETIME_OFFSET = "datetime_original+offset"
SOURCE_GPS = "gps"
SOURCE_DATETIME_LOCAL_ZONE = "datetime_original+local_zone"
SOURCE_NONE = "none"


# --- configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Every limit the checks apply; read from FIELDAPP_CHECK_<FIELD> settings."""

    gps_pass_m: float = 150.0
    gps_accuracy_factor: float = 2.0
    gps_fail_m: float = 1000.0
    time_pass_minutes: float = 30.0
    # Where the file states its offset (OffsetTimeOriginal, or GPS time in UTC) nothing can
    # explain a gap of hours: a claimed night-time discharge photographed in the morning is a
    # contradiction, so beyond this it fails.
    time_known_offset_fail_minutes: float = 120.0
    # Where the offset had to be assumed, any gap fails only beyond this...
    time_fail_minutes: float = 24 * 60.0
    # ...and a gap this close to a whole number of hours may be a wrong time zone.
    time_zone_slack_minutes: float = 5.0
    future_skew_minutes: float = 5.0
    gps_time_tolerance_minutes: float = 2.0
    near_duplicate_max_distance: int = 6
    thumbnail_max_distance: int = 12
    local_zone: str = "Asia/Shanghai"
    editors: tuple[str, ...] = DEFAULT_EDITORS

    ENV_PREFIX: ClassVar[str] = "FIELDAPP_CHECK_"

    def __post_init__(self) -> None:
        for field in fields(self):
            problem = _threshold_problem(field.name, getattr(self, field.name))
            if problem:
                raise ValueError(f"{field.name}: {problem}")
        problem = _ordering_problem(self)
        if problem:
            raise ValueError(problem)

    @classmethod
    def env_key(cls, field_name: str) -> str:
        """The settings key that configures field_name."""
        return cls.ENV_PREFIX + field_name.upper()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "Thresholds":
        """Build from FIELDAPP_CHECK_* keys (e.g. os.environ); other keys are ignored."""
        by_key = {cls.env_key(field.name): field for field in fields(cls)}
        chosen: dict[str, Any] = {}
        for key, raw in values.items():
            if not key.startswith(cls.ENV_PREFIX):
                continue
            field = by_key.get(key)
            if field is None:
                raise ValueError(f"{key}: unknown setting; expected one of {', '.join(by_key)}")
            try:
                chosen[field.name] = _parse_threshold(field.name, field.default, raw)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        try:
            return cls(**chosen)
        except ValueError as exc:
            raise ValueError(_with_env_keys(str(exc))) from None


def _parse_threshold(name: str, default: Any, raw: Any) -> Any:
    text = str(raw).strip()
    if isinstance(default, tuple):
        value: Any = tuple(part.strip() for part in text.split(",") if part.strip())
    elif isinstance(default, str):
        value = text
    elif isinstance(default, int):
        try:
            value = int(text, 10)
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
    else:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
    problem = _threshold_problem(name, value)
    if problem:
        raise ValueError(problem)
    return value


def _threshold_problem(name: str, value: Any) -> str | None:
    if name == "local_zone":
        return _zone_problem(value)
    if name == "editors":
        if not isinstance(value, tuple) or not all(isinstance(e, str) and e for e in value):
            return "must be a tuple of non-empty strings"
        return None
    wanted = int if name.endswith("_distance") else float
    if isinstance(value, bool) or not isinstance(value, wanted | int):
        return f"{value!r} is not a {'whole number' if wanted is int else 'number'}"
    if not math.isfinite(value) or value < 0:
        return f"{value!r} must be a finite number of at least 0"
    return None


def _zone_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{value!r} is not a time zone name"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not a known IANA time zone"
    return None


def _ordering_problem(thresholds: Thresholds) -> str | None:
    for low, high in (("gps_pass_m", "gps_fail_m"), ("time_pass_minutes", "time_fail_minutes"),
                      ("time_pass_minutes", "time_known_offset_fail_minutes")):
        if getattr(thresholds, low) > getattr(thresholds, high):
            return f"{low} ({getattr(thresholds, low)}) must not exceed {high}"
    return None


def _with_env_keys(message: str) -> str:
    for field in fields(Thresholds):
        message = re.sub(rf"\b{field.name}\b", Thresholds.env_key(field.name), message)
    return message


# --- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What the volunteer says: where (in crs) and when the photo was taken."""

    lon: float
    lat: float
    crs: str
    accuracy_m: float | None
    observed_at: datetime

    def __post_init__(self) -> None:
        if self.crs not in CRS_CHOICES:
            raise ValueError(f"unknown crs {self.crs!r}; expected one of {', '.join(CRS_CHOICES)}")
        if not valid_wgs84(self.lon, self.lat):
            raise ValueError(f"claimed position ({self.lon!r}, {self.lat!r}) is out of range")
        if self.accuracy_m is not None and not _is_non_negative_number(self.accuracy_m):
            raise ValueError(f"accuracy_m {self.accuracy_m!r} must be a number of at least 0")
        _require_aware("observed_at", self.observed_at)


@dataclass(frozen=True)
class Found:
    """What the service looked up in the database for this photo."""

    duplicate_report_ids: tuple[str, ...] = ()
    near_duplicates: tuple[tuple[str, int], ...] = ()
    thumbnail_distance: int | None = None
    decodable: bool = True
    # The pixels are decoded after receipt: until then the checks that compare pixels
    # (near_duplicate, thumbnail_matches) are "unknown" and say they are pending.
    pixels_pending: bool = False
    # Why the pixels could not be read (e.g. the image is over the pixel budget): those
    # checks are then "unknown" for that reason, never a pass nothing supports.
    pixels_problem: str | None = None


def _is_non_negative_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _require_aware(name: str, value: Any) -> None:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


# --- reading the metadata ----------------------------------------------------------------

_EXIF_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?")
_EXIF_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")
_LATEST_UTC_OFFSET_HOURS = 14  # Line Islands; nothing real lies beyond +14:00 / -12:00


def _text(metadata: Mapping[str, Any], key: str) -> str | None:
    """A metadata string with padding removed, or None if absent or empty."""
    value = metadata.get(key)
    if not isinstance(value, str):
        return None
    return value.strip().strip("\x00").strip() or None


def _text_list(metadata: Mapping[str, Any], key: str) -> list[str]:
    value = metadata.get(key)
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(item) for item in value if item]
    return []


def _parse_exif_datetime(label: str, raw: Any) -> tuple[datetime | None, str | None]:
    """A naive datetime from EXIF 'YYYY:MM:DD HH:MM:SS', or the reason it is unusable."""
    if raw is None:
        return None, None
    if not isinstance(raw, str):
        return None, f"{label} {raw!r} is not text"
    text = raw.strip().strip("\x00").strip()
    if not text:
        return None, None
    match = _EXIF_DATETIME.fullmatch(text)
    if not match:
        return None, f"{label} {raw!r} is not in the EXIF form YYYY:MM:DD HH:MM:SS"
    try:
        return datetime(*(int(part) for part in match.groups())), None
    except ValueError:
        return None, f"{label} {raw!r} is not a real date and time"


def _parse_offset(raw: Any) -> tuple[timezone | None, str | None]:
    """A fixed offset from EXIF '+08:00', or the reason it is unusable."""
    if raw is None:
        return None, None
    if not isinstance(raw, str):
        return None, f"OffsetTimeOriginal {raw!r} is not text"
    text = raw.strip().strip("\x00").strip()
    if not text:
        return None, None
    match = _EXIF_OFFSET.fullmatch(text)
    if not match:
        return None, f"OffsetTimeOriginal {raw!r} is not in the form +HH:MM"
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3))
    if hours > _LATEST_UTC_OFFSET_HOURS or minutes >= 60:
        return None, f"OffsetTimeOriginal {raw!r} is not a real UTC offset"
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta), None


def _parse_gps_timestamp(raw: Any) -> tuple[datetime | None, str | None]:
    """An aware UTC datetime from the reader's ISO-8601 GPS timestamp."""
    if raw is None:
        return None, None
    if not isinstance(raw, str):
        return None, f"GPS timestamp {raw!r} is not text"
    text = raw.strip()
    if not text:
        return None, None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None, f"GPS timestamp {raw!r} is not an ISO-8601 date and time"
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC), None  # GPS time is UTC by definition
    return value.astimezone(UTC), None


def _gps_block(metadata: Mapping[str, Any]) -> Mapping[str, Any] | None:
    gps = metadata.get("gps")
    return gps if isinstance(gps, Mapping) and gps else None


def _gps_position(metadata: Mapping[str, Any]) -> tuple[tuple[float, float] | None, str | None]:
    """The photo's WGS-84 (lon, lat), or the reason the GPS block gives none."""
    gps = _gps_block(metadata)
    if gps is None:
        return None, None
    lon, lat = gps.get("lon"), gps.get("lat")
    if lon is None or lat is None:
        return None, "the GPS block has no latitude and longitude"
    if not valid_wgs84(lon, lat):
        return None, f"the GPS position ({lat!r}, {lon!r}) is out of range"
    if lon == 0 and lat == 0:
        # Devices without a fix write 0/0; it is a placeholder, not a place in the sea.
        return None, "the GPS position is exactly 0, 0, a placeholder for no fix"
    return (float(lon), float(lat)), None


@dataclass(frozen=True)
class _Times:
    """The time fields of the metadata, parsed, with the reason for any that are unusable."""

    original: datetime | None
    original_problem: str | None
    offset: timezone | None
    offset_problem: str | None
    modified: datetime | None
    modified_problem: str | None
    gps: datetime | None
    gps_problem: str | None
    zone: tzinfo
    zone_name: str

    @classmethod
    def read(cls, metadata: Mapping[str, Any], local_zone: str | tzinfo) -> "_Times":
        original = _parse_exif_datetime("DateTimeOriginal", metadata.get("datetime_original"))
        offset = _parse_offset(metadata.get("offset_time_original"))
        modified = _parse_exif_datetime("DateTime", metadata.get("datetime"))
        gps_block = _gps_block(metadata) or {}
        gps = _parse_gps_timestamp(gps_block.get("timestamp"))
        zone, zone_name = _resolve_zone(local_zone)
        if original[0] is not None and offset[1] is None:
            at = original[0].replace(tzinfo=offset[0] or zone)
            if not _holdable(at):
                original = (None, f"DateTimeOriginal {metadata.get('datetime_original')!r}"
                                  f" read as {at.isoformat()} lies outside the years"
                                  " 1 to 9999 in UTC")
        if gps[0] is not None and not _holdable(gps[0]):
            gps = (None, f"GPS timestamp {gps[0].isoformat()} lies outside the years 1 to 9999")
        return cls(*original, *offset, *modified, *gps, zone, zone_name)

    def capture(self) -> tuple[datetime | None, str]:
        """Capture time and its source, most trustworthy source first."""
        if self.original and self.offset:
            return self.original.replace(tzinfo=self.offset), SOURCE_DATETIME_OFFSET
        if self.gps:
            return self.gps, SOURCE_GPS
        # A malformed offset is a damaged file, not a missing offset: do not guess a zone.
        if self.original and not self.offset_problem:
            return self.original.replace(tzinfo=self.zone), SOURCE_DATETIME_LOCAL_ZONE
        return None, SOURCE_NONE

    def problems(self) -> list[str]:
        found = (self.original_problem, self.offset_problem, self.gps_problem)
        return [problem for problem in found if problem]

    def describe_source(self, source: str) -> str:
        return {
            SOURCE_DATETIME_OFFSET: "DateTimeOriginal with its OffsetTimeOriginal",
            SOURCE_GPS: "the GPS timestamp, UTC",
            SOURCE_DATETIME_LOCAL_ZONE: (
                f"DateTimeOriginal read as {self.zone_name} time, as the file records no offset"
            ),
        }.get(source, "no source")


# The instants a capture time may be: a timestamp outside them could be stored but never
# read back into Python, whose years run from 1 to 9999.
_EARLIEST_INSTANT = datetime(1, 1, 2, tzinfo=UTC)
_LATEST_INSTANT = datetime(9999, 12, 30, tzinfo=UTC)


def _holdable(at: datetime) -> bool:
    try:
        return _EARLIEST_INSTANT <= at <= _LATEST_INSTANT
    except OverflowError:  # comparing moved it past either end of the calendar
        return False


def _resolve_zone(local_zone: str | tzinfo) -> tuple[tzinfo, str]:
    if isinstance(local_zone, tzinfo):
        return local_zone, str(local_zone)
    problem = _zone_problem(local_zone)
    if problem:
        raise ValueError(f"local_zone: {problem}")
    return ZoneInfo(local_zone), local_zone


def capture_time(
    metadata: Mapping[str, Any] | None, local_zone: str | tzinfo = "Asia/Shanghai"
) -> tuple[datetime | None, str]:
    """(aware capture time, source): DateTimeOriginal+offset, else GPS, else DTO in local_zone."""
    return _Times.read(metadata or {}, local_zone).capture()


# --- the checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    metadata: Mapping[str, Any]
    claim: Claim
    received_at: datetime
    found: Found
    thresholds: Thresholds
    times: _Times
    position: tuple[float, float] | None
    position_problem: str | None


def _result(name: str, result: str, detail: str) -> dict[str, str]:
    return {"name": name, "result": result, "detail": detail}


def _check_metadata_present(ctx: _Context) -> dict[str, str]:
    name = "metadata_present"
    if not ctx.found.decodable:
        return _result(name, "fail", "The image cannot be decoded.")
    labels = {"make": "Make", "model": "Model", "datetime_original": "DateTimeOriginal"}
    present = [label for key, label in labels.items() if _text(ctx.metadata, key)]
    if _gps_block(ctx.metadata):
        present.append("GPS")
    reader = _text(ctx.metadata, "reader")
    if reader and present:
        return _result(name, "pass", f"EXIF metadata read with {reader}: {', '.join(present)}.")
    errors = _text_list(ctx.metadata, "errors")
    reason = f" Reader errors: {'; '.join(errors)}." if errors else ""
    detail = f"No camera metadata (make, model, capture time or GPS) was found.{reason}"
    return _result(name, "warn", detail)


def _check_gps_present(ctx: _Context) -> dict[str, str]:
    name = "gps_present"
    reader_problems = _text_list(ctx.metadata, "gps_problems")
    noted = f" The reader noted: {'; '.join(reader_problems)}." if reader_problems else ""
    if ctx.position:
        lon, lat = ctx.position
        return _result(name, "pass", f"The photo has a GPS position: {lat:.6f}, {lon:.6f}.{noted}")
    if ctx.position_problem:
        detail = f"The photo's GPS block holds no usable position: {ctx.position_problem}.{noted}"
        return _result(name, "warn", detail)
    if reader_problems:
        detail = f"The photo's GPS block is invalid: {'; '.join(reader_problems)}."
        return _result(name, "warn", detail)
    return _result(name, "warn", "The photo has no GPS position.")


def _check_gps_matches_claim(ctx: _Context) -> dict[str, str]:
    name = "gps_matches_claim"
    if not ctx.position:
        detail = "The photo has no usable GPS position, so the claimed place cannot be checked."
        return _result(name, "unknown", detail)
    claim, limits = ctx.claim, ctx.thresholds
    claim_lon, claim_lat = to_wgs84(claim.lon, claim.lat, claim.crs)
    distance = distance_m(*ctx.position, claim_lon, claim_lat)
    pass_radius, widened = limits.gps_pass_m, ""
    if claim.accuracy_m is not None:
        accuracy_radius = limits.gps_accuracy_factor * claim.accuracy_m
        if accuracy_radius > pass_radius:
            pass_radius = accuracy_radius
            widened = (
                f" ({limits.gps_accuracy_factor:g} x the claimed accuracy of"
                f" {claim.accuracy_m:g} m)"
            )
    converted = ""
    if claim.crs != "wgs84":
        converted = (
            f" (claimed in {CRS_LABELS[claim.crs]} as {claim.lat:.6f}, {claim.lon:.6f};"
            f" {claim_lat:.6f}, {claim_lon:.6f} in WGS-84)"
        )
    detail = (
        f"The photo's GPS position is {_metres(distance)} from the claimed place{converted};"
        f" it passes within {_metres(min(pass_radius, limits.gps_fail_m))}{widened} and fails"
        f" beyond {_metres(max(limits.gps_fail_m, pass_radius))}."
    )
    # A coarse claim widens the tolerance, but never past gps_fail_m for a pass: a photo that
    # far from the claimed point needs a reviewer, whatever accuracy the phone reported.
    fail_radius = max(limits.gps_fail_m, pass_radius)
    if distance <= min(pass_radius, limits.gps_fail_m):
        return _result(name, "pass", detail)
    return _result(name, "fail" if distance > fail_radius else "warn", detail)


def _check_time_matches_claim(ctx: _Context) -> dict[str, str]:
    """Capture time against claimed time; how far apart may they be depends on whether the
    file states its offset (a gap of hours is then a contradiction) or the offset was
    assumed (a whole number of hours may then be a wrong time zone, not a false claim)."""
    name = "time_matches_claim"
    captured, source = ctx.times.capture()
    if captured is None:
        return _result(name, "unknown", _no_capture_time(ctx.times))
    limits = ctx.thresholds
    gap = (captured - ctx.claim.observed_at).total_seconds()
    minutes = abs(gap) / 60
    offset_known = source != SOURCE_DATETIME_LOCAL_ZONE
    fail_minutes = (limits.time_known_offset_fail_minutes if offset_known
                    else limits.time_fail_minutes)
    detail = (
        f"The capture time {captured.isoformat()} (from {ctx.times.describe_source(source)})"
        f" is {_gap(gap)} {'after' if gap > 0 else 'before'} the claimed time"
        f" {ctx.claim.observed_at.isoformat()}; it passes within"
        f" {limits.time_pass_minutes:g} minutes and fails beyond {fail_minutes:g} minutes"
        f" ({'the file states its UTC offset' if offset_known else 'the offset was assumed'})."
    )
    if minutes <= limits.time_pass_minutes:
        return _result(name, "pass", detail)
    if not offset_known and _near_whole_hours(minutes, limits.time_zone_slack_minutes):
        return _result(name, "warn", detail + (
            f" The gap is within {limits.time_zone_slack_minutes:g} minutes of a whole number"
            " of hours: the camera's clock may be set to another time zone."))
    return _result(name, "warn" if minutes <= fail_minutes else "fail", detail)


# No two civil time zones are more than 26 hours apart (UTC-12 to UTC+14).
_MAX_ZONE_GAP_HOURS = 26


def _near_whole_hours(minutes: float, slack_minutes: float) -> bool:
    hours = round(minutes / 60)
    return 1 <= hours <= _MAX_ZONE_GAP_HOURS and abs(minutes - hours * 60) <= slack_minutes


def _no_capture_time(times: _Times) -> str:
    problems = times.problems()
    reason = f": {'; '.join(problems)}" if problems else ""
    return f"No capture time could be established from the file{reason}."


def _check_not_in_future(ctx: _Context) -> dict[str, str]:
    name = "not_in_future"
    captured, source = ctx.times.capture()
    if captured is None:
        return _result(name, "unknown", _no_capture_time(ctx.times))
    skew = ctx.thresholds.future_skew_minutes
    gap = (captured - ctx.received_at).total_seconds()
    relation = f"{_gap(gap)} {'after' if gap > 0 else 'before'}"
    detail = (
        f"The capture time {captured.isoformat()} is {relation} the receipt time"
        f" {ctx.received_at.isoformat()}; {skew:g} minutes of clock skew are allowed."
    )
    if gap <= skew * 60:
        return _result(name, "pass", detail)
    if source == SOURCE_DATETIME_LOCAL_ZONE and gap <= skew * 60 + _zone_headroom_s(captured):
        # The offset was assumed: a camera on a zone east of it reads ahead by whole hours.
        return _result(name, "warn", detail + (
            f" The file records no UTC offset and it was read as {ctx.times.zone_name} time;"
            " a camera set to a time zone further east explains a gap this size."))
    return _result(name, "fail", detail)


def _zone_headroom_s(captured: datetime) -> float:
    """How far ahead of the assumed zone the easternmost civil zone (UTC+14) runs."""
    offset = captured.utcoffset() or timedelta(0)
    return max(0.0, (timedelta(hours=_LATEST_UTC_OFFSET_HOURS) - offset).total_seconds())


def _check_gps_time_consistent(ctx: _Context) -> dict[str, str]:
    name = "gps_time_consistent"
    times = ctx.times
    reasons = [p for p in (times.gps_problem, times.original_problem, times.offset_problem) if p]
    if times.gps is None and not times.gps_problem:
        reader_problems = _text_list(ctx.metadata, "gps_problems")
        noted = f" (the reader noted: {'; '.join(reader_problems)})" if reader_problems else ""
        reasons.append(f"the file has no GPS timestamp{noted}")
    if times.original is None and not times.original_problem:
        reasons.append("the file has no DateTimeOriginal")
    if reasons:
        detail = f"Cannot compare the camera and GPS clocks: {'; '.join(reasons)}."
        return _result(name, "unknown", detail)
    if times.offset:
        original, reading = times.original.replace(tzinfo=times.offset), "with its offset"
    else:
        original = times.original.replace(tzinfo=times.zone)
        reading = f"no offset recorded, so read as {times.zone_name} time"
    gap = (original - times.gps).total_seconds()
    tolerance = ctx.thresholds.gps_time_tolerance_minutes
    detail = (
        f"DateTimeOriginal {original.isoformat()} ({reading}) and the GPS timestamp"
        f" {times.gps.isoformat()} differ by {_gap(gap)}; {tolerance:g} minutes are allowed."
    )
    return _result(name, "pass" if abs(gap) <= tolerance * 60 else "warn", detail)


def _check_editing_software(ctx: _Context) -> dict[str, str]:
    name = "editing_software"
    named = [
        (label, value)
        for label, value in (
            ("Software", _text(ctx.metadata, "software")),
            ("ProcessingSoftware", _text(ctx.metadata, "processing_software")),
            ("CreatorTool", _text(ctx.metadata, "creator_tool")),
            # CreatorTool names the first tool that made the file; each later change is an
            # event of the XMP history naming its software.
            *(("HistorySoftwareAgent", agent.strip())
              for agent in _text_list(ctx.metadata, "history_software_agents")
              if agent.strip()),
        )
        if value
    ]
    if not named:
        return _result(name, "unknown",
                       "The file names no Software, ProcessingSoftware or CreatorTool.")
    for label, value in named:
        editor = _editor_in(value, ctx.thresholds.editors)
        if editor:
            detail = f"{label} {value!r} names the image editor {editor!r}."
            return _result(name, "warn", detail)
    listed = "; ".join(f"{label} {value!r}" for label, value in named)
    return _result(name, "pass", f"No known image editor is named ({listed}).")


def _editor_in(value: str, editors: Iterable[str]) -> str | None:
    folded = value.casefold()
    return next((editor for editor in editors if editor.casefold() in folded), None)


def _check_modified_after_capture(ctx: _Context) -> dict[str, str]:
    name = "modified_after_capture"
    times = ctx.times
    problems = [p for p in (times.modified_problem, times.original_problem) if p]
    if problems:
        return _result(name, "unknown", f"Cannot compare: {'; '.join(problems)}.")
    if times.modified is None or times.original is None:
        missing = "DateTime" if times.modified is None else "DateTimeOriginal"
        return _result(name, "unknown", f"Cannot compare: the file has no {missing}.")
    gap = (times.modified - times.original).total_seconds()
    if gap > 0:
        detail = (
            f"DateTime (last modified) {times.modified.isoformat(sep=' ')} is {_gap(gap)}"
            f" after DateTimeOriginal {times.original.isoformat(sep=' ')}."
        )
        return _result(name, "warn", detail)
    detail = (
        f"DateTime (last modified) {times.modified.isoformat(sep=' ')} is not after"
        f" DateTimeOriginal {times.original.isoformat(sep=' ')}."
    )
    return _result(name, "pass", detail)


def _check_duplicate(ctx: _Context) -> dict[str, str]:
    name = "duplicate"
    report_ids = [str(report_id) for report_id in ctx.found.duplicate_report_ids]
    if report_ids:
        noun = "report" if len(report_ids) == 1 else "reports"
        detail = f"The identical file (same SHA-256) is already in {noun} {', '.join(report_ids)}."
        return _result(name, "fail", detail)
    return _result(name, "pass", "No other report holds the identical file.")


PENDING_DETAIL = "Pending: the image's pixels are compared after receipt, within moments."


def _unread_pixels(problem: str) -> str:
    return f"Not compared: the pixels were not read ({problem})."


def _check_near_duplicate(ctx: _Context) -> dict[str, str]:
    name = "near_duplicate"
    if ctx.found.pixels_pending:
        return _result(name, "unknown", PENDING_DETAIL)
    if ctx.found.pixels_problem:
        return _result(name, "unknown", _unread_pixels(ctx.found.pixels_problem))
    limit = ctx.thresholds.near_duplicate_max_distance
    close = sorted(
        (distance, str(photo_id))
        for photo_id, distance in ctx.found.near_duplicates
        if distance <= limit
    )
    if close:
        listed = ", ".join(f"{photo_id} (distance {distance})" for distance, photo_id in close)
        detail = f"Perceptually similar photos in other reports: {listed}; the limit is {limit}."
        return _result(name, "warn", detail)
    detail = f"No photo in another report is within perceptual-hash distance {limit}."
    return _result(name, "pass", detail)


def _check_thumbnail_matches(ctx: _Context) -> dict[str, str]:
    name = "thumbnail_matches"
    distance = ctx.found.thumbnail_distance
    limit = ctx.thresholds.thumbnail_max_distance
    if ctx.found.pixels_pending and ctx.metadata.get("has_thumbnail") is True:
        return _result(name, "unknown", PENDING_DETAIL)
    if ctx.found.pixels_problem:
        return _result(name, "unknown", _unread_pixels(ctx.found.pixels_problem))
    if distance is None:
        if ctx.metadata.get("has_thumbnail") is True:
            detail = "The embedded thumbnail could not be compared with the image."
        else:
            detail = "The file has no embedded thumbnail to compare with the image."
        return _result(name, "unknown", detail)
    if distance <= limit:
        detail = f"The embedded thumbnail matches the image (distance {distance}, limit {limit})."
        return _result(name, "pass", detail)
    detail = (
        f"The embedded thumbnail differs from the image (distance {distance}, limit {limit}):"
        " the picture may have been changed after the camera wrote the thumbnail."
    )
    return _result(name, "fail", detail)


_CHECKS = (
    _check_metadata_present,
    _check_gps_present,
    _check_gps_matches_claim,
    _check_time_matches_claim,
    _check_not_in_future,
    _check_gps_time_consistent,
    _check_editing_software,
    _check_modified_after_capture,
    _check_duplicate,
    _check_near_duplicate,
    _check_thumbnail_matches,
)


# Both are frozen, so sharing one instance as a default argument is safe.
NOTHING_FOUND = Found()
DEFAULT_THRESHOLDS = Thresholds()


def _verdict(checks: list[dict[str, str]], found: Found = NOTHING_FOUND) -> str:
    results = {check["name"]: check["result"] for check in checks}
    if "fail" in results.values():
        return "inconsistent"
    if "warn" in results.values():
        return "needs_review"
    if any(results.get(name) == "unknown" for name in CORROBORATING_CHECKS):
        return "needs_review"
    if found.pixels_problem:
        return "needs_review"
    return "consistent"


def run_checks(
    metadata: Mapping[str, Any] | None,
    claim: Claim,
    received_at: datetime,
    found: Found = NOTHING_FOUND,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """Run every check in CHECK_NAMES order; return the checks, verdict and capture time."""
    _require_aware("received_at", received_at)
    metadata = metadata or {}
    times = _Times.read(metadata, thresholds.local_zone)
    position, position_problem = _gps_position(metadata)
    ctx = _Context(
        metadata, claim, received_at, found, thresholds, times, position, position_problem
    )
    checks = [check(ctx) for check in _CHECKS]
    captured, source = times.capture()
    return {
        "checks": checks,
        "verdict": _verdict(checks, found),
        "capture_time": captured.isoformat() if captured else None,
        "capture_time_source": source,
    }


# The checks that look at the decoded image; the rest are settled from metadata on receipt.
PIXEL_CHECKS = ("metadata_present", "near_duplicate", "thumbnail_matches")
# Asked again once the pixels are analysed: a submission of the same file committed at
# the same moment was invisible to the receipt's transaction, but not to the analysis.
# A duplicate found on receipt stays found.
RECONFIRMED_CHECKS = ("duplicate",)


def settle_pixel_checks(
    outcome: Mapping[str, Any],
    metadata: Mapping[str, Any] | None,
    claim: Claim,
    received_at: datetime,
    found: Found,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """The outcome given on receipt with the checks that need the pixels run again, and
    `duplicate` asked again (RECONFIRMED_CHECKS), never turned from fail to pass.

    Every other check keeps the result and wording the receipt recorded, so settling the
    pixels never rewrites what the phone was told about its metadata.
    """
    fresh = {c["name"]: c for c in run_checks(metadata, claim, received_at, found,
                                              thresholds)["checks"]}

    def settled(check: dict) -> dict:
        if check["name"] in PIXEL_CHECKS:
            return fresh[check["name"]]
        if check["name"] in RECONFIRMED_CHECKS and check["result"] != "fail":
            return fresh[check["name"]]
        return check

    checks = [settled(c) for c in outcome["checks"]]
    return {**outcome, "checks": checks, "verdict": _verdict(checks, found)}


# --- wording -----------------------------------------------------------------------------


def _metres(distance: float) -> str:
    if distance < 10_000:
        return f"{distance:.0f} m"
    return f"{distance / 1000:.1f} km"


def _gap(seconds: float) -> str:
    seconds = abs(seconds)
    if round(seconds) == 1:
        return "1 second"
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 120 * 60:
        return f"{seconds / 60:.1f} minutes"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"
