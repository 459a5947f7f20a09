"""fieldapp: evidence backend for citizen pollution monitoring."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

__version__ = "0.1.0"

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config=None) -> Flask:
    """Build the app: config, extensions, request class, blueprints, errors, CLI."""
    from fieldapp.config import Config
    from fieldapp.http import EvidenceRequest

    app = Flask(__name__)
    app.request_class = EvidenceRequest
    app.config.from_object(config or Config())
    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    register_proxy(app)
    register_bounds(app)
    register_headers(app)
    return app


def register_headers(app: Flask) -> None:
    """Every answer is read only as the type it declares: a JSON answer quoting what a
    volunteer wrote, or a script, is never sniffed into a page that runs it."""
    @app.after_request
    def nosniff(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def register_bounds(app: Flask) -> None:
    """A statement timeout on every request's queries; staff bulk reads in the access log."""
    from fieldapp import timeouts
    from fieldapp.access import audit

    timeouts.register(app)
    audit.register(app)


def register_proxy(app: Flask) -> None:
    """Behind `fieldapp serve`'s nginx (and any proxies in front of it), take the client's
    address and scheme from the nearest trusted proxy's X-Forwarded-For/-Proto: sign-in
    throttling keys on the real address, and a client's own X-Forwarded-For is not trusted.
    Photo reports' bodies come from nginx's temp files (fieldapp.serving.handover)."""
    hops = app.config.get("FIELDAPP_PROXY_HOPS") or 0
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    if app.config.get("FIELDAPP_PROXY_BODY_DIR"):
        from fieldapp.serving.handover import BodyHandover

        app.wsgi_app = BodyHandover(app.wsgi_app, app.config["FIELDAPP_PROXY_BODY_DIR"])


def register_extensions(app: Flask) -> None:
    from fieldapp.extensions import api, db, migrate
    from fieldapp.storage.blobs import BlobStore

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "Evidence backend for citizen pollution monitoring."},
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer"},
        }},
    })
    api.init_app(app)
    app.extensions["blob_store"] = BlobStore(app.config["FIELDAPP_DATA_DIR"])


def register_blueprints(app: Flask) -> None:
    from fieldapp.access.routes import blp as access_blp
    from fieldapp.accounts.routes import blp as auth_blp
    from fieldapp.accounts.routes import users_blp
    from fieldapp.anchors.routes import blp as anchors_blp
    from fieldapp.cases.routes import blp as cases_blp
    from fieldapp.complaints.routes import blp as complaints_blp
    from fieldapp.console.routes import bp as console_bp
    from fieldapp.dossiers.routes import blp as dossiers_blp
    from fieldapp.extensions import api
    from fieldapp.health import blp as health_blp
    from fieldapp.hotspots.routes import blp as hotspots_blp
    from fieldapp.mapview.routes import bp as map_bp
    from fieldapp.ogc.routes import blp as ogc_blp
    from fieldapp.photos.routes import blp as photos_blp
    from fieldapp.reports.routes import blp as reports_blp
    from fieldapp.reports.schemas import ReportClaimSchema
    from fieldapp.reviews.routes import blp as reviews_blp
    from fieldapp.sites.routes import blp as sites_blp
    from fieldapp.tasks.routes import claims_blp, requests_blp, tasks_blp, volunteer_blp
    from fieldapp.tiles.routes import blp as tiles_blp
    from fieldapp.uploads.routes import blp as uploads_blp
    from fieldapp.volunteers.record_routes import blp as records_blp
    from fieldapp.volunteers.record_routes import certificates_blp, corrections_blp
    from fieldapp.volunteers.routes import blp as volunteers_blp

    for blueprint in (health_blp, auth_blp, users_blp, reports_blp, photos_blp, reviews_blp,
                      sites_blp, cases_blp, dossiers_blp, hotspots_blp, tiles_blp, ogc_blp,
                      access_blp, anchors_blp, complaints_blp, requests_blp, tasks_blp,
                      claims_blp, volunteer_blp, volunteers_blp, uploads_blp, records_blp,
                      corrections_blp, certificates_blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(map_bp)
    app.register_blueprint(console_bp)
    # The claim travels as a JSON text part of a multipart body; name its schema in the document.
    if "ReportClaim" not in api.spec.components.schemas:
        api.spec.components.schema("ReportClaim", schema=ReportClaimSchema)


def register_cli(app: Flask) -> None:
    from fieldapp.cli import register

    register(app)
