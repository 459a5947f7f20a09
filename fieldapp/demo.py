"""Demo data: accounts (printed with tokens) and reports whose photos are generated here.

Re-running is safe: accounts are reused, and reports carry fixed client_ids, so the
idempotent intake returns the stored ones instead of adding copies. Each account's password
is generated when the account is made and printed that once (only its argon2 hash is
kept), so no two installs share a password and none is written anywhere in the project.
"""
from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from flask import current_app
from PIL import ImageDraw
from sqlalchemy import select

from fieldapp.accounts import service as accounts
from fieldapp.cases import service as cases
from fieldapp.cases.models import Case
from fieldapp.errors import Conflict
from fieldapp.extensions import db
from fieldapp.geo.coordinates import wgs84_to_bd09, wgs84_to_gcj02
from fieldapp.photogen import make_exif, scene
from fieldapp.reports import analysis
from fieldapp.reports import service as reports
from fieldapp.reports.models import Report
from fieldapp.sites import service as sites
from fieldapp.sites.models import Site
from fieldapp.sites.schemas import SiteInSchema

CST = timezone(timedelta(hours=8))
DEMO_NAMESPACE = uuid.UUID("6f1d7f0e-3c2a-4e8b-9a53-0c9a1e6b2d41")
ACCOUNTS = (
    ("volunteer", "volunteer@demo.fieldapp.org"),
    ("coordinator", "coordinator@demo.fieldapp.org"),
    ("lawyer", "lawyer@demo.fieldapp.org"),
    ("admin", "admin@demo.fieldapp.org"),
)


@dataclass(frozen=True)
class DemoReport:
    key: str
    category: str
    description: str
    lon: float
    lat: float
    observed: datetime
    crs: str = "wgs84"
    software: str | None = None
    photo_offset_m: float = 0.0      # how far the photo's GPS is from the claim
    photo_delay: timedelta = timedelta(0)


REPORTS = (
    DemoReport("dye-outfall", "water", "Dark blue outflow from the dye works' pipe into the "
               "river, strong smell.", 113.3902, 23.1805, datetime(2026, 5, 4, 10, 31, tzinfo=CST)),
    DemoReport("dye-outfall-2", "water", "Same outfall a week later, foam on the water.",
               113.3907, 23.1801, datetime(2026, 5, 11, 9, 5, tzinfo=CST), crs="gcj02"),
    DemoReport("chimney-night", "air", "Yellow smoke from the east chimney after 22:00.",
               113.2644, 23.1291, datetime(2026, 6, 2, 22, 40, tzinfo=CST), crs="bd09"),
    DemoReport("slag-heap", "solid_waste", "Slag dumped on the river bank behind the plant.",
               113.5012, 23.0633, datetime(2026, 6, 20, 16, 12, tzinfo=CST),
               software="Meitu 9.8.5"),
    DemoReport("far-claim", "soil", "Red-stained soil by the drainage ditch.",
               113.6001, 23.2502, datetime(2026, 7, 1, 8, 0, tzinfo=CST), photo_offset_m=5000),
)


@dataclass
class _Upload:
    stream: object
    filename: str


SITES = (
    {"name": "某某印染有限公司三厂", "name_en": "Mou Dyeing Co. Plant 3",
     "operator": "某某印染有限公司", "uscc": "91440300708461136T", "industry": "textile dyeing",
     "region": "广东省广州市", "status": "under_investigation",
     "geometry": {"type": "Polygon", "coordinates": [[
         [113.3895, 23.1800], [113.3910, 23.1800], [113.3910, 23.1812], [113.3895, 23.1812],
         [113.3895, 23.1800]]]}},
    {"name": "东郊热电厂", "name_en": "East Suburb Power Plant", "operator": "东郊热电有限公司",
     "industry": "power", "region": "广东省广州市", "status": "active",
     "geometry": {"type": "Point", "coordinates": [113.2650, 23.1295]}},
)
CASE_TITLE = "某某印染有限公司三厂水污染环境公益诉讼"


def load_demo(echo, reset_passwords: bool = False) -> None:
    """Make what is missing; with reset_passwords, demo accounts get new passwords."""
    tokens = {role: _ensure_account(role, email, reset_passwords) for role, email in ACCOUNTS}
    echo("Demo accounts (email / password / token); passwords are shown only when set:")
    for role, email in ACCOUNTS:
        _, password, token = tokens[role]
        echo(f"  {role:<12} {email:<32} {password or '(unchanged)':<24} {token}")
    site_ids = [_ensure_site(spec) for spec in SITES]
    echo(f"  {len(site_ids)} demo sites")
    report_ids = _load_reports(tokens["volunteer"][0], echo)
    case = _ensure_case(site_ids[0], report_ids, tokens["lawyer"][0])
    echo(f"  case {case.id} with {len(case.items)} evidence item(s): POST "
         f"/api/v1/cases/{case.id}/dossiers as the lawyer to export a dossier")


def _ensure_site(spec: dict):
    existing = db.session.scalar(select(Site.id).where(Site.name == spec["name"]))
    if existing:
        return existing
    return sites.create_site(SiteInSchema().load(spec)).id


def _ensure_case(site_id, report_ids: dict, lawyer):
    existing = db.session.scalar(select(Case).where(Case.title == CASE_TITLE))
    if existing:
        return existing
    case = cases.create_case({"site_id": site_id, "title": CASE_TITLE,
                              "authority": "广州市中级人民法院", "case_number": None,
                              "legal_status": "monitoring",
                              "timeline": [{"happened_on": date(2026, 5, 4),
                                            "text": "志愿者首次拍到排污口出水发黑"}]}, lawyer)
    for key, purpose in (("dye-outfall", "证明该厂于 2026 年 5 月 4 日向河道排放深色污水"),
                         ("dye-outfall-2", "证明排污在一周后仍在持续")):
        report = db.session.get(Report, report_ids[key]) if key in report_ids else None
        if report is not None:
            cases.add_item(case.id, {"photo_id": report.photos[0].id, "purpose": purpose,
                                     "title": f"排污口现场照片（{key}）",
                                     "include_rejected": False}, lawyer)
    db.session.refresh(case)
    return case


def _load_reports(volunteer, echo) -> dict:
    report_ids = {}
    for index, spec in enumerate(REPORTS):
        upload = _upload(spec, index)
        try:
            report, created = reports.submit(volunteer, _claim(spec), [upload])
        except Conflict:
            echo(f"  report {spec.key:<14} kept: an older demo report holds its client_id")
            continue
        finally:
            upload.stream.close()
        # Demo data is shown settled: analyse the pixels now rather than in the background.
        analysis.settle(photo.id for photo in report.photos)
        db.session.commit()
        state = "stored" if created else "already there"
        report_ids[spec.key] = report.id
        echo(f"  report {spec.key:<14} {report.verdict:<13} {state} ({report.id})")
    return report_ids


def _ensure_account(role, email, reset_password: bool):
    user, password = accounts.find_user(email), None
    if user is None:
        password = accounts.generate_password()
        user = accounts.create_user(email, password, role, display_name=f"Demo {role}",
                                    actor="demo")
    elif reset_password:
        password = accounts.generate_password()
        accounts.set_password(user.id, password, actor="demo")
    if user.disabled:
        # An admin disabled it on purpose; the demo must not undo that with a token.
        return user, password, "(disabled)"
    return user, password, accounts.issue_token(user)


def _claim(spec: DemoReport) -> dict:
    lon, lat = {"wgs84": lambda a, b: (a, b), "gcj02": wgs84_to_gcj02,
                "bd09": wgs84_to_bd09}[spec.crs](spec.lon, spec.lat)
    return {
        "client_id": uuid.uuid5(DEMO_NAMESPACE, spec.key), "category": spec.category,
        "description": spec.description, "observed_at": spec.observed,
        "location": {"lon": lon, "lat": lat, "crs": spec.crs, "accuracy_m": 15.0},
        "site_id": None,
    }


def _upload(spec: DemoReport, seed: int) -> _Upload:
    store = current_app.extensions["blob_store"]
    spool = store.spool(current_app.config["FIELDAPP_MAX_PHOTO_BYTES"])
    spool.write(demo_photo(spec, seed))
    return _Upload(stream=spool, filename=f"{spec.key}.jpg")


def demo_photo(spec: DemoReport, seed: int) -> bytes:
    """A generated 'phone photo' with make, model, times and GPS in its EXIF."""
    taken = spec.observed + spec.photo_delay
    exif = make_exif(lat=spec.lat + spec.photo_offset_m / 111_320, lon=spec.lon, taken=taken,
                     software=spec.software, gps_time=taken)
    image = scene(seed, size=(1600, 1200))
    ImageDraw.Draw(image).text((40, 40), spec.key, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()
