"""read_metadata against ExifTool's readings of real photos, and against generated edge cases."""

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from fieldapp.evidence.exif import read_metadata

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "photos"
RESULT_KEYS = {
    "reader", "make", "model", "software", "creator_tool", "datetime_original",
    "offset_time_original", "datetime", "gps", "gps_problems", "width", "height",
    "orientation", "has_thumbnail", "errors", "processing_software", "history_software_agents",
}  # fmt: skip

# ExifTool reads this file's GPS block (refs N/E, all rationals 0/1) as lat 0, lon 0, alt 0.
# That is the placeholder a phone writes without a fix, so read_metadata rejects it on purpose.
PLACEHOLDER_FIX = "mdx__jpg__Samsung_GT-I9000_Galaxy_S_.jpg"


def _reference_entries() -> list[dict]:
    reference = PHOTOS / "reference.json"
    if not reference.is_file():
        # A missing photo set must fail the run, never skip it.
        raise FileNotFoundError(f"shared photos not found: {reference}")
    return json.loads(reference.read_text())["files"]


REFERENCE = _reference_entries()
BY_NAME = {entry["file"]: entry for entry in REFERENCE}


def _meta(name: str) -> dict:
    return read_metadata(PHOTOS / name)


def _as_text(value) -> str | None:
    # reference.json was made with `exiftool -n`, which turns a Software of "8.3" into 8.3;
    # comparing as text is right because EXIF stores the tag as ASCII.
    return None if value is None else str(value)


def _gps_moment(entry: dict) -> datetime | None:
    stamp, clock = entry["gps_datestamp"], entry["gps_timestamp"]
    if stamp is None or clock is None:
        return None
    try:
        day = datetime.strptime(stamp, "%Y:%m:%d")
    except ValueError:
        return None  # "2014:09:259", "0000:00:00": ExifTool repeats them, we reject them
    hours, minutes, seconds = clock.split(":")
    return day.replace(
        hour=int(hours),
        minute=int(minutes),
        second=int(float(seconds)),
        microsecond=round(float(seconds) % 1 * 1_000_000),
        tzinfo=UTC,
    )


def test_shared_photo_set_is_complete():
    assert len(REFERENCE) == 34
    missing = [entry["file"] for entry in REFERENCE if not (PHOTOS / entry["file"]).is_file()]
    assert missing == []


@pytest.mark.parametrize("entry", REFERENCE, ids=lambda entry: entry["file"])
def test_result_shape_is_complete_and_json_serialisable(entry):
    meta = _meta(entry["file"])

    assert set(meta) == RESULT_KEYS
    assert json.loads(json.dumps(meta)) == meta


@pytest.mark.parametrize("entry", REFERENCE, ids=lambda entry: entry["file"])
def test_gps_position_matches_exiftool(entry):
    gps = _meta(entry["file"])["gps"]

    if entry["gps_latitude"] is None or entry["file"] == PLACEHOLDER_FIX:
        assert gps is None
    else:
        assert gps["lat"] == pytest.approx(entry["gps_latitude"], abs=1e-6)
        assert gps["lon"] == pytest.approx(entry["gps_longitude"], abs=1e-6)


@pytest.mark.parametrize("entry", REFERENCE, ids=lambda entry: entry["file"])
def test_gps_altitude_and_time_match_exiftool_where_the_position_is_used(entry):
    gps = _meta(entry["file"])["gps"]
    if gps is None:
        return

    if entry["gps_altitude"] is None:
        assert gps["alt"] is None
    else:
        assert gps["alt"] == pytest.approx(entry["gps_altitude"], abs=1e-6)
    expected = _gps_moment(entry)
    actual = gps["timestamp"] and datetime.fromisoformat(gps["timestamp"])
    assert actual == expected


@pytest.mark.parametrize("entry", REFERENCE, ids=lambda entry: entry["file"])
def test_camera_fields_match_exiftool(entry):
    meta = _meta(entry["file"])

    for name in ("make", "model", "software", "datetime_original", "offset_time_original"):
        assert meta[name] == _as_text(entry[name]), name


def test_placeholder_fix_is_rejected_with_a_reason():
    meta = _meta(PLACEHOLDER_FIX)

    assert meta["gps"] is None
    assert any("placeholder" in problem for problem in meta["gps_problems"])


@pytest.mark.parametrize(
    "name",
    ["mdx__jpg__Nikon_D5000.jpg", "mdx__heic__Issue_487.heic"],
)
def test_zero_denominator_coordinates_are_rejected_with_a_reason(name):
    meta = _meta(name)

    assert meta["gps"] is None
    assert any("0/0" in problem for problem in meta["gps_problems"])


def test_malformed_gps_date_keeps_position_but_drops_time():
    meta = _meta("mdx__jpg__Apple_iPhone_6.jpg")

    assert meta["gps"]["lat"] == pytest.approx(51.7624083333333, abs=1e-6)
    assert meta["gps"]["timestamp"] is None
    assert any("2014:09:259" in problem for problem in meta["gps_problems"])


def test_altitude_below_sea_level_is_negative():
    assert _meta("mdx__jpg__Issue_173_dotnet_.jpg")["gps"]["alt"] == -848.0


def test_empty_gps_block_is_reported():
    meta = _meta("exifsamples__jpg__tests__45-gps_ifd.jpg")

    assert meta["gps"] is None
    assert meta["gps_problems"] == ["GPS block has no latitude/longitude"]


def test_png_with_exif_in_a_text_chunk_is_read_by_pillow():
    meta = _meta("kim__full__photo_51.png")

    assert meta["reader"] == "pillow"
    assert meta["has_thumbnail"] is True
    assert (meta["width"], meta["height"]) == (1500, 1000)


def test_exif_header_with_bad_magic_is_read_by_exifread_and_pillow_failure_recorded():
    meta = _meta("mdx__jpg__ImageTestSuite__c3018ebe53d0046eecb58858ca869a99.jpg")

    assert meta["reader"] == "exifread"
    assert meta["software"] == "Adobe Photoshop 7.0"
    assert any(error.startswith("pillow:") for error in meta["errors"])
    assert (meta["width"], meta["height"]) == (325, 407)


def test_corrupt_exif_ifd_is_recorded_as_an_error():
    meta = _meta("exifsamples__jpg__tests__30-type_error.jpg")

    assert meta["make"] is None
    assert any("corrupted IFD" in error for error in meta["errors"])


def test_heic_is_read_with_pixel_size_and_written_orientation():
    meta = _meta("mdx__heic__Issue_263_dotnet.heic")

    assert meta["reader"] == "exifread"
    assert (meta["width"], meta["height"]) == (3024, 4032)
    assert meta["orientation"] == 6
    assert meta["has_thumbnail"] is False


def test_width_and_height_are_the_pixels_not_the_exif_claim():
    # The EXIF of this file claims 1200x800; the pixels are 600x400.
    meta = _meta("mdx__jpg__FujiFilm_FinePixS1Pro_2_.jpg")

    assert (meta["width"], meta["height"]) == (600, 400)


@pytest.mark.parametrize(
    ("name", "creator_tool"),
    [
        ("exifr__issue-exifr-59.jpg", "Adobe Photoshop Lightroom 6.1 (Windows)"),
        ("kim__full__photo_27.jpg", "Adobe Photoshop Lightroom 4.2 (Windows)"),
        ("exifr__iptc-agency-photographer-example.jpg", "Adobe Photoshop CS5 Windows"),
        ("mdx__heic__exif-at-eof.heic", "13.4.1"),
        ("exifsamples__jpg__gps__DSCN0010.jpg", None),
    ],
)
def test_creator_tool_comes_from_xmp(name, creator_tool):
    assert _meta(name)["creator_tool"] == creator_tool


def test_creator_tool_found_past_a_stray_mention_and_far_into_the_file():
    from fieldapp.evidence.exif import _scan_creator_tool

    data = (b"\x00" * 10 + b"CreatorTool is mentioned here without XMP" + b"\xff" * 3_000_000
            + b'<x:xmpmeta><rdf:Description xmp:CreatorTool="Meitu 7.1"/></x:xmpmeta>')
    assert _scan_creator_tool(data) == "Meitu 7.1"
    assert _scan_creator_tool(b"<xmp:CreatorTool>GIMP 2.10</xmp:CreatorTool>") == "GIMP 2.10"
    assert _scan_creator_tool(b"xmp:CreatorTool") is None


def test_the_editors_in_the_xmp_history_are_read():
    # CreatorTool is the first tool that made the file; the editors that changed it since
    # are in xmpMM:History, each event's stEvt:softwareAgent.
    meta = _meta("kim__full__photo_51.png")
    assert meta["history_software_agents"] == ["Adobe Photoshop Camera Raw 12.2 (Macintosh)",
                                               "Gimp 2.10 (Mac OS)"]
    assert _meta("exifsamples__jpg__gps__DSCN0010.jpg")["history_software_agents"] == []


def test_processing_software_and_history_of_a_generated_edit(tmp_path):
    from tests.imagegen import jpeg_bytes

    exif = Image.open(__import__("io").BytesIO(jpeg_bytes(seed=6))).getexif()
    exif[0x000B] = "Meitu 9.2"  # ProcessingSoftware
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description>'
           b"<xmpMM:History><rdf:Seq><rdf:li><stEvt:softwareAgent>Snapseed 2.0"
           b"</stEvt:softwareAgent></rdf:li></rdf:Seq></xmpMM:History>"
           b"</rdf:Description></rdf:RDF></x:xmpmeta>")
    path = tmp_path / "edited.jpg"
    Image.new("RGB", (64, 48), (10, 20, 30)).save(path, "JPEG", exif=exif, xmp=xmp)
    meta = read_metadata(path)
    assert meta["processing_software"] == "Meitu 9.2"
    assert meta["history_software_agents"] == ["Snapseed 2.0"]


def test_a_jpeg_is_searched_for_xmp_only_before_its_pixels(tmp_path):
    from fieldapp.evidence.exif import read_metadata
    from tests.imagegen import jpeg_bytes

    # CreatorTool-like bytes after the image data are not XMP (say, a stray trailer).
    data = jpeg_bytes(seed=5) + b'<x xmp:CreatorTool="Photoshop"/>'
    path = tmp_path / "trailer.jpg"
    path.write_bytes(data)
    assert read_metadata(path)["creator_tool"] is None


def test_thumbnail_and_orientation_of_a_camera_jpeg():
    meta = _meta("mdx__jpg__Samsung_GT-I9000_Galaxy_S_.jpg")

    assert meta["has_thumbnail"] is True
    assert meta["orientation"] == 6
    assert meta["make"] == "SAMSUNG"


# --- generated images -------------------------------------------------------------------------


def _dms(degrees: int, minutes: int, seconds: IFDRational) -> tuple:
    return IFDRational(degrees), IFDRational(minutes), seconds


def _position(lat_ref="N", lat=None, lon_ref="E", lon=None) -> dict:
    return {
        ExifTags.GPS.GPSLatitudeRef: lat_ref,
        ExifTags.GPS.GPSLatitude: lat or _dms(10, 0, IFDRational(0)),
        ExifTags.GPS.GPSLongitudeRef: lon_ref,
        ExifTags.GPS.GPSLongitude: lon or _dms(20, 0, IFDRational(0)),
    }


def _write_image(path: Path, gps: dict | None = None, fmt: str = "JPEG") -> Path:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "FieldCam"
    if gps is not None:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps)
    Image.new("RGB", (64, 48), (40, 120, 60)).save(path, fmt, exif=exif)
    return path


def test_generated_fix_in_south_west_with_altitude_below_sea_level_and_time(tmp_path):
    gps = _position(
        lat_ref="S",
        lat=_dms(33, 51, IFDRational(2191, 100)),
        lon_ref="W",
        lon=_dms(70, 40, IFDRational(105, 10)),
    )
    gps[ExifTags.GPS.GPSAltitudeRef] = b"\x01"
    gps[ExifTags.GPS.GPSAltitude] = IFDRational(12)
    gps[ExifTags.GPS.GPSTimeStamp] = _dms(7, 11, IFDRational(4307, 100))
    gps[ExifTags.GPS.GPSDateStamp] = "2021:03:04"

    meta = read_metadata(_write_image(tmp_path / "south_west.jpg", gps))

    assert meta["reader"] == "exifread"
    assert meta["gps"] == {
        "lat": pytest.approx(-(33 + 51 / 60 + 21.91 / 3600), abs=1e-9),
        "lon": pytest.approx(-(70 + 40 / 60 + 10.5 / 3600), abs=1e-9),
        "alt": -12.0,
        "timestamp": "2021-03-04T07:11:43.070000+00:00",
    }
    assert meta["gps_problems"] == []
    assert (meta["width"], meta["height"]) == (64, 48)


def test_generated_latitude_beyond_90_is_rejected(tmp_path):
    gps = _position(lat=_dms(91, 0, IFDRational(0)))

    meta = read_metadata(_write_image(tmp_path / "lat91.jpg", gps))

    assert meta["gps"] is None
    assert any("GPSLatitude" in problem and "90" in problem for problem in meta["gps_problems"])


def test_generated_zero_over_zero_rational_is_rejected(tmp_path):
    gps = _position(lon=(IFDRational(0, 0), IFDRational(0, 0), IFDRational(0, 0)))

    meta = read_metadata(_write_image(tmp_path / "zero_over_zero.jpg", gps))

    assert meta["gps"] is None
    assert any("GPSLongitude" in problem and "0/0" in problem for problem in meta["gps_problems"])


def test_generated_missing_reference_is_rejected(tmp_path):
    gps = _position()
    del gps[ExifTags.GPS.GPSLatitudeRef]

    meta = read_metadata(_write_image(tmp_path / "no_ref.jpg", gps))

    assert meta["gps"] is None
    assert any("GPSLatitudeRef missing" in problem for problem in meta["gps_problems"])


def test_generated_overflowed_altitude_is_dropped_but_position_kept(tmp_path):
    gps = _position()
    gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
    gps[ExifTags.GPS.GPSAltitude] = IFDRational(4294967295, 1)

    meta = read_metadata(_write_image(tmp_path / "overflow.jpg", gps))

    assert (meta["gps"]["lat"], meta["gps"]["lon"], meta["gps"]["alt"]) == (10.0, 20.0, None)
    assert any("GPSAltitude" in problem for problem in meta["gps_problems"])


def test_generated_png_with_exif_chunk(tmp_path):
    meta = read_metadata(_write_image(tmp_path / "exif.png", _position(), fmt="PNG"))

    assert meta["make"] == "FieldCam"
    assert (meta["gps"]["lat"], meta["gps"]["lon"]) == (10.0, 20.0)
    assert meta["errors"] == []


def test_jpeg_without_exif_says_so(tmp_path):
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (32, 16), "white").save(path, "JPEG")

    meta = read_metadata(path)

    assert meta["reader"] is None
    assert meta["gps"] is None
    assert "no EXIF metadata found" in meta["errors"]
    assert (meta["width"], meta["height"]) == (32, 16)


def test_truncated_photo_gives_a_result_not_an_exception(tmp_path):
    path = tmp_path / "truncated.jpg"
    with open(PHOTOS / "mdx__jpg__Apple_iPhone_6.jpg", "rb") as source:
        path.write_bytes(source.read(500))

    meta = read_metadata(path)

    assert set(meta) == RESULT_KEYS
    assert meta["make"] == "Apple"  # the EXIF that survived is still read
    assert meta["gps"] is None
    assert any(error.startswith("pillow:") for error in meta["errors"])
    json.dumps(meta)


def test_truncated_heic_gives_a_result_not_an_exception(tmp_path):
    path = tmp_path / "truncated.heic"
    with open(PHOTOS / "exifr__heic-iphone7.heic", "rb") as source:
        path.write_bytes(source.read(3000))

    meta = read_metadata(path)

    assert meta["reader"] is None
    assert (meta["width"], meta["height"]) == (None, None)
    assert any(error.startswith("exifread:") for error in meta["errors"])


def test_random_bytes_give_a_result_not_an_exception(tmp_path):
    path = tmp_path / "noise.jpg"
    path.write_bytes(random.Random(20240601).randbytes(4096))

    meta = read_metadata(path)

    assert meta["reader"] is None
    assert (meta["width"], meta["height"]) == (None, None)
    assert "no EXIF metadata found" in meta["errors"]
    assert any(error.startswith("pillow:") for error in meta["errors"])


# Pillow warns about each damaged tag it skips; here only "never raises" is under test.
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "name",
    [
        "exifr__IMG_20180725_163423-tiny.jpg",
        "exifsamples__jpg__hdr__iphone_hdr_NO.jpg",
        "kim__full__photo_51.png",
        "exifr__heic-maybebroken.HEIC",
        "exifr__002.tiff",
    ],
)
def test_damaged_metadata_bytes_never_raise(tmp_path, name):
    rng = random.Random(name)
    with open(PHOTOS / name, "rb") as source:
        head = source.read(64 * 1024)  # where the metadata of these files lives
    path = tmp_path / name
    for _ in range(20):
        damaged = bytearray(head)
        for _ in range(rng.randint(1, 30)):
            damaged[rng.randrange(min(len(damaged), 8192))] = rng.randrange(256)
        path.write_bytes(bytes(damaged))

        meta = read_metadata(path)

        assert set(meta) == RESULT_KEYS
        json.dumps(meta)


def test_missing_file_gives_a_result_not_an_exception(tmp_path):
    meta = read_metadata(tmp_path / "absent.jpg")

    assert meta["reader"] is None
    assert meta["errors"]
