"""The evidence catalog PDF: layout, embedded CJK font, extractable Chinese, rasterising.

pdftotext, pdffonts, pdfinfo and pdftoppm come from Debian's poppler-utils; when they are
missing the tests fail (never skip), as the Chinese text can only be checked by reading it back.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from fieldapp.dossiers.catalog import FONT_PACKAGE, FontMissing, render_catalog

OPERATOR = "某某化工有限公司"
PURPOSE = "证明该厂向河道排放污水"
SITE_POLYGON = {
    "type": "Polygon",
    "coordinates": [[[120.5301, 31.3102], [120.5342, 31.3104], [120.5345, 31.3071],
                     [120.5299, 31.3068], [120.5301, 31.3102]]],
}
CHECKS = [
    ("metadata_present", "pass", "EXIF metadata read with exifread: make, model, GPS."),
    ("gps_present", "pass", "The photo has a GPS position: 31.308712, 120.532650."),
    ("gps_matches_claim", "pass", "The EXIF position is 18 m from the claimed position (GCJ-02"
     " converted to WGS-84); it passes within 150 m and fails beyond 1000 m."),
    ("time_matches_claim", "warn", "The capture time 2026-03-02T06:41:10+08:00 (from"
     " DateTimeOriginal with its OffsetTimeOriginal) is 95 minutes from the claimed time."),
    ("not_in_future", "pass", "The capture time is 2 hours before receipt."),
    ("gps_time_consistent", "pass", "The GPS timestamp is 1 second from the capture time."),
    ("editing_software", "pass", "No known image editor is named (Software: 16.1)."),
    ("modified_after_capture", "unknown", "Cannot compare: the file has no DateTime."),
    ("duplicate", "pass", "No other report holds the identical file."),
    ("near_duplicate", "fail", "Perceptual hash within 4 bits of photo 5f0c… in report 81d2…."),
    ("thumbnail_matches", "pass", "The embedded thumbnail matches the image (distance 2)."),
]


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: install the Debian package poppler-utils"
    return path


def _run(*args: str) -> str:
    result = subprocess.run([_tool(args[0]), *args[1:]], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _page_text(pdf: Path, page: int | None = None, layout: bool = False) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return _run("pdftotext", *(["-layout"] if layout else []), *pages, str(pdf), "-")


def _pages_text(pdf: Path, layout: bool = False) -> list[str]:
    """The text of each page (pdftotext ends every page with a form feed)."""
    return _page_text(pdf, layout=layout).split("\f")[:-1]


def _listed_pages(front_matter: str) -> list[int]:
    """The page column of the catalog table, read from pdftotext -layout output."""
    return [int(page) for page in re.findall(r"(\d+)\s+原件（电子数据）", front_matter)]


def _pdf_pages(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))


def _assert_fonts_embedded(pdf: Path) -> None:
    """Every font is embedded: none is left to the viewer (STSong-Light, Helvetica, ...)."""
    assert b"/FontFile2" in pdf.read_bytes()
    assert b"STSong" not in pdf.read_bytes()
    fonts = _run("pdffonts", str(pdf)).splitlines()[2:]
    assert fonts, "no fonts listed"
    # The columns end with: emb, sub, uni, object number, generation.
    assert all(line.split()[-5] == "yes" for line in fonts), fonts
    assert all("WenQuanYi" in line for line in fonts), fonts


def _jpeg(path: Path, size: tuple[int, int] = (1200, 900)) -> Path:
    image = Image.new("RGB", size, (96, 128, 110))
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rectangle([0, height * 2 // 3, width, height], fill=(70, 62, 48))
    draw.ellipse([width // 3, height // 4, width // 2, height // 2], fill=(210, 210, 200))
    image.save(path, "JPEG", quality=80)
    return path


def _item(number: int, **changes) -> dict:
    item = {
        "number": number,
        "title": f"排污口照片 {number} / Outfall photo {number}",
        "purpose": PURPOSE,
        "photo_id": f"8c6f0d2e-0000-4000-8000-{number:012d}",
        "report_id": f"1b2c3d4e-0000-4000-8000-{number:012d}",
        "source": {"volunteer": "heron-7f3a2c", "make": "Apple", "model": "iPhone 8"},
        "capture_time": "2026-03-02T06:41:10+08:00",
        "capture_time_source": "datetime_original+offset",
        "place": {
            "exif": {"lat": 31.308712, "lon": 120.53265},
            "claim": {"lon": 120.53712, "lat": 31.30671, "crs": "gcj02", "accuracy_m": 15,
                      "wgs84": {"lon": 120.53266, "lat": 31.30875}},
        },
        "received_at": "2026-03-02T08:40:55+08:00",
        "sha256": f"{number:04x}" + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c1"[:60],
        "size": 2_483_211,
        "media_type": "image/jpeg",
        "original": f"originals/{number:03d}-9f86d081.jpg",
        "preview": f"previews/{number:03d}.jpg",
        "exif": {"make": "Apple", "model": "iPhone 8", "software": "16.1",
                 "datetime_original": "2026:03:02 06:41:10", "offset_time_original": "+08:00",
                 "gps": {"lat": 31.308712, "lon": 120.53265}},
        "checks": [{"name": name, "result": result, "detail": detail}
                   for name, result, detail in CHECKS],
        "verdict": "inconsistent",
        "reviews": [{"decision": "accepted", "reason": "位置与时间均与举报一致。",
                     "at": "2026-03-03T10:00:00+08:00"}],
        "included_despite_rejection": False,
        "sm3": f"{number:04x}" + "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4"[:60],
        "timestamps": ["timestamps/00000090-7.tsr"],
        "handlers": [{"role": "volunteer", "pseudonym": "heron-7f3a2c",
                      "actions": ["received", "original_read"]},
                     {"role": "system", "pseudonym": None, "actions": ["verified"]}],
    }
    item.update(changes)
    return item


def _manifest(items: list[dict], geometry: dict | None = None) -> dict:
    return {
        "format": "fieldapp-dossier/1",
        "dossier": {"id": "0b7e1a52-3c1d-4f7e-9a51-2f0c7d1e9b44", "number": 3,
                    "label": "D-2026-0003", "created_at": "2026-03-10T09:30:00+08:00",
                    "created_by_role": "lawyer"},
        "case": {"id": "c1", "title": "某某化工有限公司水污染环境公益诉讼",
                 "authority": "苏州市中级人民法院", "case_number": "（2026）苏05民初123号",
                 "legal_status": "filed"},
        "site": {"id": "s1", "name": "某某化工有限公司排污口", "name_en": "Moumou Chemical outfall",
                 "operator": OPERATOR, "uscc": "91320500MA1XXXXX0A",
                 "permit_number": "91320500MA1XXXXX0A001V", "address": "江苏省苏州市某区某路 8 号",
                 "region": "江苏省苏州市", "geometry": geometry or SITE_POLYGON},
        "items": items,
        "custody": {"head_seq": 123, "head_hash": "ab" * 32, "events": 45,
                    "file": "custody.jsonl"},
        "system": {"software": "fieldapp 0.1.0",
                   "description": "fieldapp receives each photo over HTTPS and hashes it.",
                   "environment": {"fieldapp": "0.1.0", "postgresql": "15.8",
                                   "postgis": "3.3.4", "os": "Debian GNU/Linux 12"},
                   "monitoring": {"audit": "verify walks the chain", "audit_interval_s": 86400,
                                  "last_audit": {"at": "2026-03-09T03:00:00+00:00",
                                                 "custody_seq": 120,
                                                 "result": {"problems": 0}},
                                  "tsa": ["https://tsa.example.org/tsr"]},
                   "timestamping": "Every item's receipt is covered by an RFC 3161 time-stamp.",
                   "limits": "It does not show where the scene was photographed."},
        "timestamps": [{"file": "timestamps/00000090-7.tsr", "custody_seq": 90,
                        "custody_hash": "cd" * 32, "tsa": "https://tsa.example.org/tsr",
                        "gen_time": "2026-03-02T00:42:37+00:00"}],
        "files": {},
    }


def _three_items(tmp_path: Path) -> tuple[dict, dict]:
    rejected = _item(2, place={"exif": None, "claim": {
        "lon": 120.5331, "lat": 31.3060, "crs": "wgs84", "accuracy_m": 30,
        "wgs84": {"lon": 120.5331, "lat": 31.3060}}},
        verdict="needs_review", preview=None,
        reviews=[{"decision": "rejected", "reason": "画面不清晰 / image unclear",
                  "at": "2026-03-03T10:00:00+08:00"}],
        included_despite_rejection=True)
    no_position = _item(3, place={"exif": None, "claim": None}, exif={}, verdict=None,
                        reviews=[], source={"volunteer": "egret-91ab04", "make": None,
                                            "model": None})
    manifest = _manifest([_item(1), rejected, no_position])
    previews = {1: _jpeg(tmp_path / "001.jpg"), 2: None, 3: tmp_path / "missing.jpg"}
    return manifest, previews


@pytest.fixture()
def catalog(tmp_path) -> tuple[Path, int]:
    manifest, previews = _three_items(tmp_path)
    out = tmp_path / "catalog.pdf"
    return out, render_catalog(manifest, previews, out)


def test_catalog_is_a_pdf_of_cover_map_and_one_page_per_item(catalog):
    pdf, pages = catalog
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pages == 6  # cover and table, map, the system statement, three items
    assert _pdf_pages(pdf) == 6


def test_cjk_font_is_embedded_and_no_viewer_font_is_referenced(catalog):
    pdf, _ = catalog
    _assert_fonts_embedded(pdf)


def test_chinese_text_reads_back(catalog):
    pdf, _ = catalog
    text = _page_text(pdf)
    for expected in ("证据目录", OPERATOR, PURPOSE, "Page 1 of 6", "第 1 页", "D-2026-0003",
                     "原件（电子数据）", "已被驳回，律师决定仍列入", "无预览 / No preview",
                     "ab" * 32):
        assert expected in text, expected


def test_catalog_page_column_points_at_each_item_page(catalog):
    pdf, _ = catalog
    assert _listed_pages(_page_text(pdf, 1, layout=True)) == [4, 5, 6]
    for number, page in ((1, 4), (2, 5), (3, 6)):
        assert f"证据 {number} / Item {number}" in _page_text(pdf, page)
    assert "Items without a position: 3" in _page_text(pdf, 2)


def test_page_column_stays_right_when_text_spills_over_pages(tmp_path):
    long_review = [{"decision": "rejected", "reason": "理由" * 1500, "at": None}]
    manifest = _manifest([_item(1), _item(2, reviews=long_review), _item(3, purpose="长" * 2500),
                          _item(4)])
    out = tmp_path / "catalog.pdf"
    pages = render_catalog(manifest, {}, out)
    texts = _pages_text(out, layout=True)
    assert len(texts) == pages
    starts = [next(page for page, text in enumerate(texts, start=1)
                   if f"证据 {number} / Item {number}" in text) for number in (1, 2, 3, 4)]
    map_page = next(page for page, text in enumerate(texts, start=1) if "Site map" in text)
    system_page = next(page for page, text in enumerate(texts, start=1)
                       if "Who handled each item" in text)
    assert starts[0] == system_page + 1
    assert starts[2] - starts[1] > 1 and starts[3] - starts[2] > 1  # both spilled
    assert _listed_pages("".join(texts[:map_page - 1])) == starts
    assert f"Page {pages} of {pages}" in texts[-1]


def test_each_item_states_its_time_stamp_and_the_gap_after_receipt(catalog):
    pdf, _ = catalog
    page = " ".join(_page_text(pdf, 4).split())
    # Received 08:40:55 +08:00, time-stamped 00:42:37 UTC: 1 min 42 s later.
    assert ("2026-03-02 00:42:37 +00:00，https://tsa.example.org/tsr，"
            "接收后 after receipt 1 min 42 s，event #90") in page
    assert "0001" + "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4"[:60] in page


def test_the_system_statement_answers_article_93(catalog):
    pdf, _ = catalog
    page = " ".join(_page_text(pdf, 3).split())
    for fact in ("About the system", "Art. 93", "PostgreSQL: 15.8", "PostGIS: 3.3.4",
                 "Debian GNU/Linux 12", "2026-03-09 03:00:00 +00:00", '{"problems": 0}',
                 "https://tsa.example.org/tsr", "where the scene was photographed",
                 "志愿者 volunteer heron-7f3a2c：接收 received、读取原件 original_read",
                 "系统 system ：分析 verified"):
        assert fact in page, fact


def test_first_page_rasterises(catalog, tmp_path):
    pdf, _ = catalog
    _run("pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p"))
    pngs = list(tmp_path.glob("p-*.png"))
    assert len(pngs) == 1
    with Image.open(pngs[0]) as image:
        assert image.width > 300 and image.height > 400


def test_rendering_is_deterministic(tmp_path):
    manifest, previews = _three_items(tmp_path)
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    render_catalog(manifest, previews, first)
    render_catalog(manifest, previews, second)
    assert first.read_bytes() == second.read_bytes()


def test_missing_font_names_path_and_package(tmp_path):
    missing = tmp_path / "no-such-font.ttc"
    with pytest.raises(FontMissing) as raised:
        render_catalog(_manifest([]), {}, tmp_path / "c.pdf", font_path=str(missing))
    assert str(missing) in str(raised.value)
    assert FONT_PACKAGE in str(raised.value)
    assert not (tmp_path / "c.pdf").exists()


def test_font_from_environment(tmp_path, monkeypatch):
    missing = tmp_path / "env-font.ttf"
    monkeypatch.setenv("FIELDAPP_CJK_FONT", str(missing))
    with pytest.raises(FontMissing, match=re.escape(str(missing))):
        render_catalog(_manifest([]), {}, tmp_path / "c.pdf")


def test_sparse_manifest_with_point_site_and_identical_points(tmp_path):
    bare = {"number": 1, "title": None, "source": None, "place": None, "checks": None,
            "reviews": None, "size": None, "exif": None}
    same = [_item(n, place={"exif": {"lat": 31.3, "lon": 120.5}, "claim": None})
            for n in (2, 3, 4)]
    hostile = _item(5, title="<b>未闭合 & 标记", purpose="长" * 3000,
                    reviews=[{"decision": "odd", "reason": "x" * 5000, "at": "not a time"}],
                    checks=[{"name": None, "result": "maybe", "detail": None}])
    manifest = _manifest([bare, *same, hostile], {"type": "Point", "coordinates": [120.5, 31.3]})
    manifest["case"] = None
    out = tmp_path / "catalog.pdf"
    pages = render_catalog(manifest, {}, out)
    assert pages == _pdf_pages(out)
    text = _page_text(out)
    assert "<b>未闭合 & 标记" in text
    assert "Every item has a position." not in text
    _assert_fonts_embedded(out)


def test_empty_manifest_renders_cover_and_map(tmp_path):
    out = tmp_path / "catalog.pdf"
    assert render_catalog({}, {}, out) == 3
    assert "Nothing to plot" in _page_text(out, 2)
    assert "About the system" in _page_text(out, 3)
    assert "No items" in _page_text(out, 1)
    _assert_fonts_embedded(out)


def test_five_hundred_items(tmp_path):
    preview = _jpeg(tmp_path / "preview.jpg", (1600, 1200))
    count = 500
    manifest = _manifest([_item(number) for number in range(1, count + 1)])
    out = tmp_path / "catalog.pdf"
    started = time.perf_counter()
    pages = render_catalog(manifest, dict.fromkeys(range(1, count + 1), preview), out)
    seconds = time.perf_counter() - started
    print(f"\n{count} items: {pages} pages, {out.stat().st_size / 1e6:.1f} MB in {seconds:.1f} s")
    assert pages == _pdf_pages(out)
    assert f"证据 {count} / Item {count}" in _page_text(out, pages)
    assert f"Page {pages} of {pages}" in _page_text(out, pages)
