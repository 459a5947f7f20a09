"""Least privilege: the fieldapp_app role and exactly what it may do.

The schema owner runs the migrations; the server, the analysers and every `fieldapp`
command but `db upgrade` connect as a login role that is only a member of fieldapp_app.
That role owns nothing, so it can neither alter a table nor disable or drop a trigger, and
it holds only the privileges below: evidence is appended, never rewritten or removed.

Revision ID: 0005_least_privilege
Revises: 0004_pixel_analysis
Create Date: 2026-12-01
"""
from alembic import op

revision = "0005_least_privilege"
down_revision = "0004_pixel_analysis"
branch_labels = None
depends_on = None


APP_ROLE = "fieldapp_app"

# Table -> what the app may do with it. A tuple after UPDATE names the only columns it may
# change: those a workflow legitimately moves (a site link, a verdict, analysis results).
# Left out on purpose, so that the database itself refuses them:
#   custody_events, reviews, dossiers: no UPDATE, DELETE or TRUNCATE (the record of what
#     happened and what was handed over; the triggers of 0001/0002 refuse them as well);
#   photos, reports: no DELETE; and no UPDATE of what a photo or a claim is (a photo's
#     sha256, size, media type and receipt; a report's place, time, volunteer, client_id,
#     claimed coordinates, receipt time and fingerprint).
# SELECT ... FOR UPDATE needs UPDATE on some column of the table: cases (a freeze numbers
# its dossier), site_risk, photos and reports (analysis) have one.
POLICY: dict[str, dict[str, tuple[str, ...] | None]] = {
    "users": {"SELECT": None, "INSERT": None},
    "api_tokens": {"SELECT": None, "INSERT": None, "UPDATE": ("revoked_at",)},
    "reports": {"SELECT": None, "INSERT": None, "UPDATE": (
        "site_id", "site_link", "site_distance_m",     # linking, relinking, promotion
        "verdict", "verified",                          # analysis, recheck, review
    )},
    "photos": {"SELECT": None, "INSERT": None, "UPDATE": (
        # what reading the original again or decoding its pixels finds
        "exif", "checks", "verdict", "capture_time", "exif_location", "phash",
        "checked_at", "analysed_at", "verified",
    )},
    "custody_events": {"SELECT": None, "INSERT": None},
    "reviews": {"SELECT": None, "INSERT": None},
    "dossiers": {"SELECT": None, "INSERT": None},
    "sites": {"SELECT": None, "INSERT": None, "UPDATE": (
        "name", "name_en", "operator", "uscc", "permit_number", "industry", "address",
        "region", "status", "geom", "updated_at",
    )},
    "cases": {"SELECT": None, "INSERT": None, "UPDATE": (
        "title", "authority", "case_number", "legal_status", "updated_at",
    )},
    "case_entries": {"SELECT": None, "INSERT": None},
    # Items of a case being prepared are reordered and removed; a frozen dossier keeps its
    # own copy of them in its signed manifest.
    "evidence_items": {"SELECT": None, "INSERT": None, "UPDATE": ("position",),
                       "DELETE": None},
    "h3_cells": {"SELECT": None, "INSERT": None},
    "hex_counts": {"SELECT": None, "INSERT": None, "UPDATE": ("reports",)},
    "hex_totals": {"SELECT": None, "INSERT": None, "UPDATE": ("reports",)},
    "site_risk": {"SELECT": None, "INSERT": None, "UPDATE": (
        "components", "open_cases", "computed_at",
    )},
    # The server reports the schema's revision; only the owner moves it.
    "alembic_version": {"SELECT": None},
}


def grant_statements(policy=POLICY, role: str = APP_ROLE) -> list[str]:
    """REVOKE then GRANT per table, so the role holds exactly the policy, however it began."""
    statements = []
    for table, privileges in policy.items():
        statements.append(f"REVOKE ALL ON TABLE {table} FROM {role}")
        for privilege, columns in privileges.items():
            target = f"{privilege} ({', '.join(columns)})" if columns else privilege
            statements.append(f"GRANT {target} ON TABLE {table} TO {role}")
    return statements


def upgrade():
    # The role the server runs as (through a login role that is a member of it). It is
    # cluster-wide, so it may exist already from another database of the same server.
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
        END $$
    """)
    # PostgreSQL 15 no longer lets every role create in the public schema, but a cluster
    # upgraded from an older release keeps that grant: the app must create nothing there
    # (no shadow table, function or trigger). Only the schema's owner can revoke it.
    op.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    for statement in grant_statements():
        op.execute(statement)


def downgrade():
    # The role stays: other databases of the same server may still grant to it.
    for table in POLICY:
        op.execute(f"REVOKE ALL ON TABLE {table} FROM {APP_ROLE}")
