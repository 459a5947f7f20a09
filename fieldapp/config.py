"""Configuration, read only from the environment (12-factor)."""
from __future__ import annotations

import os
from pathlib import Path

from fieldapp.mapview import basemaps

MB = 1024 * 1024


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc


def sqlalchemy_url(database_url: str) -> str:
    """DATABASE_URL as SQLAlchemy wants it: the stack's driver is psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg2://" + database_url[len(prefix):]
    return database_url


class Config:
    """Settings for a running server; every value may be overridden by the environment."""

    def __init__(self, **overrides):
        # The server's login role, a member of fieldapp_app (no password in the repository:
        # scripts/postgis.sh generates it; libpq also reads PGPASSWORD and ~/.pgpass).
        database_url = os.environ.get(
            "DATABASE_URL", "postgresql://fieldapp_server@127.0.0.1:5432/fieldapp")
        self.SQLALCHEMY_DATABASE_URI = sqlalchemy_url(database_url)
        # Only `fieldapp db upgrade` connects as the schema owner; the server never needs it.
        self.FIELDAPP_OWNER_DATABASE_URI = sqlalchemy_url(
            os.environ.get("FIELDAPP_OWNER_DATABASE_URL") or database_url)
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.FIELDAPP_DATA_DIR = Path(
            os.environ.get("FIELDAPP_DATA_DIR", Path.cwd() / "var")
        ).resolve()
        self.FIELDAPP_MAX_PHOTO_BYTES = _int("FIELDAPP_MAX_PHOTO_BYTES", 50 * MB)
        self.FIELDAPP_MAX_PHOTOS = _int("FIELDAPP_MAX_PHOTOS", 20)
        # Resumable uploads (tus): an upload not used by a report this long after its
        # creation expires, finished or not, and the sweep (this often) removes its bytes.
        self.FIELDAPP_UPLOAD_TTL_S = _int("FIELDAPP_UPLOAD_TTL_S", 24 * 3600)
        self.FIELDAPP_UPLOAD_SWEEP_INTERVAL_S = _int("FIELDAPP_UPLOAD_SWEEP_INTERVAL_S", 3600)
        # Images declaring more pixels are refused before decoding (decompression bombs).
        self.FIELDAPP_MAX_PIXELS = _int("FIELDAPP_MAX_PIXELS", 100_000_000)
        # What one volunteer may send in any 24 hours (0: unlimited); staff are not limited.
        self.FIELDAPP_QUOTA_REPORTS_PER_DAY = _int("FIELDAPP_QUOTA_REPORTS_PER_DAY", 200)
        self.FIELDAPP_QUOTA_BYTES_PER_DAY = _int("FIELDAPP_QUOTA_BYTES_PER_DAY", 2048 * MB)
        self.FIELDAPP_PREVIEW_PX = _int("FIELDAPP_PREVIEW_PX", 1600)
        self.FIELDAPP_THUMBNAIL_PX = _int("FIELDAPP_THUMBNAIL_PX", 320)
        # Images embedded in catalog.pdf: enough for a printed page, light for 500 items.
        self.FIELDAPP_CATALOG_PX = _int("FIELDAPP_CATALOG_PX", 800)
        self.FIELDAPP_CATALOG_TIMEOUT_S = _int("FIELDAPP_CATALOG_TIMEOUT_S", 600)
        self.FIELDAPP_CJK_FONT = os.environ.get("FIELDAPP_CJK_FONT") or None
        # A report sent without a site is linked to the nearest site within this distance.
        self.FIELDAPP_SITE_LINK_M = _int("FIELDAPP_SITE_LINK_M", 500)
        # Complaints to the authorities, in calendar days (complaints.rules): acceptance
        # decided within, a result within, and extensions of the result in all at most.
        self.FIELDAPP_COMPLAINT_ACCEPT_DAYS = _int("FIELDAPP_COMPLAINT_ACCEPT_DAYS", 15)
        self.FIELDAPP_COMPLAINT_RESULT_DAYS = _int("FIELDAPP_COMPLAINT_RESULT_DAYS", 60)
        self.FIELDAPP_COMPLAINT_MAX_EXTENSION_DAYS = _int(
            "FIELDAPP_COMPLAINT_MAX_EXTENSION_DAYS", 30)
        # Monitoring tasks (tasks.rules): how long a claim holds its slot before check-in
        # (extendable), how many claims one volunteer may hold in hand, how often the sweep
        # marks run-out claims expired (0: never), and how early it warns their volunteers.
        self.FIELDAPP_CLAIM_TTL_S = _int("FIELDAPP_CLAIM_TTL_S", 7200)
        self.FIELDAPP_MAX_ACTIVE_CLAIMS = _int("FIELDAPP_MAX_ACTIVE_CLAIMS", 1)
        self.FIELDAPP_CLAIM_SWEEP_INTERVAL_S = _int("FIELDAPP_CLAIM_SWEEP_INTERVAL_S", 60)
        self.FIELDAPP_CLAIM_WARN_S = _int("FIELDAPP_CLAIM_WARN_S", 900)
        # Checks thresholds are read by evidence.checks.Thresholds.from_mapping.
        self.FIELDAPP_CHECK_SETTINGS = {
            k: v for k, v in os.environ.items() if k.startswith("FIELDAPP_CHECK_")
        }
        # The public layer withholds hexagons where fewer distinct volunteers than this have
        # verified evidence (k-anonymity: people, not reports).
        self.FIELDAPP_PUBLIC_MIN_COUNT = _int("FIELDAPP_PUBLIC_MIN_COUNT", 3)
        # The public layer shows public_cells as captured once a UTC day, from this many days
        # after the capture's day (0: the same day), so a cell never appears minutes after a
        # volunteer's visit.
        self.FIELDAPP_PUBLIC_DELAY_DAYS = _int("FIELDAPP_PUBLIC_DELAY_DAYS", 1)
        # Bounded work. Every request's queries are cancelled after this (a 503); the CLI
        # and background work are not bound by it.
        self.FIELDAPP_STATEMENT_TIMEOUT_MS = _int("FIELDAPP_STATEMENT_TIMEOUT_MS", 15000)
        # Hexagons one hex-bin answer may span (bbox / cell area), the longest time window
        # read day by day, and the most reports one clustering request may take.
        self.FIELDAPP_HEXBIN_MAX_CELLS = _int("FIELDAPP_HEXBIN_MAX_CELLS", 50000)
        self.FIELDAPP_WINDOW_MAX_DAYS = _int("FIELDAPP_WINDOW_MAX_DAYS", 366)
        self.FIELDAPP_CLUSTER_MAX_REPORTS = _int("FIELDAPP_CLUSTER_MAX_REPORTS", 100000)
        # What a service record and certificate name as the organisation, the person in
        # charge, the handler and their contact (民政部令第67号 asks for each): no certificate
        # is issued until all four are set (a service record says "fieldapp" without a name).
        self.FIELDAPP_ORG_NAME = os.environ.get("FIELDAPP_ORG_NAME", "")
        self.FIELDAPP_ORG_PERSON_IN_CHARGE = os.environ.get("FIELDAPP_ORG_PERSON_IN_CHARGE", "")
        self.FIELDAPP_ORG_HANDLER = os.environ.get("FIELDAPP_ORG_HANDLER", "")
        self.FIELDAPP_ORG_CONTACT = os.environ.get("FIELDAPP_ORG_CONTACT", "")
        # The base maps of the map page and the console (mapview.basemaps): Tianditu, an XYZ
        # template (GCJ-02 or not), or only the offline base packaged at install time.
        self.FIELDAPP_BASEMAPS = basemaps.from_environ(os.environ)
        # RFC 3161 time-stamping authorities that anchor the custody chain (none: no anchors),
        # the root(s) their tokens must chain to, and how often the head is anchored.
        self.FIELDAPP_TSA_URLS = [url.strip() for url in
                                  os.environ.get("FIELDAPP_TSA_URLS", "").split(",")
                                  if url.strip()]
        self.FIELDAPP_TSA_CA_FILE = os.environ.get("FIELDAPP_TSA_CA_FILE") or None
        self.FIELDAPP_ANCHOR_INTERVAL_S = _int("FIELDAPP_ANCHOR_INTERVAL_S", 60)
        # Short: a TSA that is down must not hold up a freeze for long.
        self.FIELDAPP_TSA_TIMEOUT_S = _int("FIELDAPP_TSA_TIMEOUT_S", 10)
        # Background jobs (`fieldapp jobs work`): how often the custody audit runs (0: never),
        # how many jobs run at once (a long freeze must not hold up anchors), and how far
        # below the web workers' CPU priority they run (nice), so intake is answered first.
        self.FIELDAPP_AUDIT_INTERVAL_S = _int("FIELDAPP_AUDIT_INTERVAL_S", 86400)
        self.FIELDAPP_JOB_CONCURRENCY = _int("FIELDAPP_JOB_CONCURRENCY", 2)
        self.FIELDAPP_JOB_NICE = _int("FIELDAPP_JOB_NICE", 10)
        # Succeeded jobs are forgotten after this many days, daily (0: kept for ever).
        self.FIELDAPP_JOBS_KEEP_DAYS = _int("FIELDAPP_JOBS_KEEP_DAYS", 30)
        self.FIELDAPP_RISK_SETTINGS = {
            k: v for k, v in os.environ.items() if k.startswith("FIELDAPP_RISK_")
        }
        # Accounts: token lifetimes, and failed sign-ins allowed per window before a 429.
        self.FIELDAPP_TOKEN_TTL_S = _int("FIELDAPP_TOKEN_TTL_S", 30 * 24 * 3600)
        # A wall display's read-only token: short by default, never longer than the above.
        self.FIELDAPP_READ_TOKEN_TTL_S = _int("FIELDAPP_READ_TOKEN_TTL_S", 24 * 3600)
        self.FIELDAPP_SIGNIN_WINDOW_S = _int("FIELDAPP_SIGNIN_WINDOW_S", 15 * 60)
        self.FIELDAPP_SIGNIN_MAX_FAILURES = _int("FIELDAPP_SIGNIN_MAX_FAILURES", 10)
        self.FIELDAPP_SIGNIN_MAX_FAILURES_PER_ADDRESS = _int(
            "FIELDAPP_SIGNIN_MAX_FAILURES_PER_ADDRESS", 50)
        # Any body but an upload (JSON, forms): refused above this before it is read whole.
        self.FIELDAPP_MAX_JSON_BYTES = _int("FIELDAPP_MAX_JSON_BYTES", 64 * 1024)
        # Whole request: every photo at the cap plus room for the report JSON and framing.
        self.MAX_CONTENT_LENGTH = (
            self.FIELDAPP_MAX_PHOTO_BYTES * self.FIELDAPP_MAX_PHOTOS + MB
        )
        # `fieldapp serve`: nginx listens here and buffers every request and response, so
        # slow phones hold only nginx connections; gunicorn sits behind it on a unix socket.
        self.FIELDAPP_BIND = os.environ.get("FIELDAPP_BIND") or "127.0.0.1:5000"
        # Processes, not threads, carry the load: hashing, parsing and the ORM hold the GIL.
        self.FIELDAPP_WORKERS = _int("FIELDAPP_WORKERS", (os.cpu_count() or 1) + 1)
        self.FIELDAPP_THREADS = _int("FIELDAPP_THREADS", 2)
        self.FIELDAPP_TIMEOUT = _int("FIELDAPP_TIMEOUT", 300)
        self.FIELDAPP_ANALYSERS = _int("FIELDAPP_ANALYSERS", os.cpu_count() or 1)
        # Proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none, the
        # app faces clients itself). `fieldapp serve` sets at least 1 for its own nginx.
        self.FIELDAPP_PROXY_HOPS = _int("FIELDAPP_PROXY_HOPS", 0)
        # Set by `fieldapp serve` only: where its nginx writes the bodies it hands over.
        self.FIELDAPP_PROXY_BODY_DIR = os.environ.get("FIELDAPP_PROXY_BODY_DIR") or None
        self.FIELDAPP_TLS_CERT = os.environ.get("FIELDAPP_TLS_CERT") or None
        self.FIELDAPP_TLS_KEY = os.environ.get("FIELDAPP_TLS_KEY") or None
        self.FIELDAPP_CLIENT_HEADER_TIMEOUT_S = _int("FIELDAPP_CLIENT_HEADER_TIMEOUT_S", 20)
        self.FIELDAPP_CLIENT_BODY_TIMEOUT_S = _int("FIELDAPP_CLIENT_BODY_TIMEOUT_S", 60)
        # Per response, the most the proxy spools to disk for a slow reader, and how many
        # dossier downloads may run at once: together they bound the proxy's temp files.
        self.FIELDAPP_PROXY_TEMP_FILE_MB = _int("FIELDAPP_PROXY_TEMP_FILE_MB", 1024)
        self.FIELDAPP_PROXY_DOWNLOADS = _int("FIELDAPP_PROXY_DOWNLOADS", 4)
        self.API_TITLE = "fieldapp"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.JSON_SORT_KEYS = False
        for key, value in overrides.items():
            setattr(self, key, value)
