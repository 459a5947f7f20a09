"""Foundation: users, tokens, reports, photos, append-only custody chain.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION custody_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'custody_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _uuid(name, *args, **kw):
    return sa.Column(name, pg.UUID(as_uuid=True), *args, **kw)


def _ts(name, **kw):
    return sa.Column(name, sa.DateTime(timezone=True), **kw)


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "users",
        _uuid("id", primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200)),
        _ts("created_at", nullable=False),
        sa.CheckConstraint("role IN ('volunteer', 'coordinator', 'lawyer', 'admin')",
                           name="users_role_known"),
    )
    op.create_table(
        "api_tokens",
        _uuid("id", primary_key=True),
        _uuid("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _ts("created_at", nullable=False),
        _ts("revoked_at"),
    )
    op.create_table(
        "reports",
        _uuid("id", primary_key=True),
        _uuid("client_id", nullable=False, unique=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        _uuid("volunteer_id", sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("category", sa.String(16), nullable=False, index=True),
        sa.Column("description", sa.Text, nullable=False),
        _ts("observed_at", nullable=False, index=True),
        _ts("received_at", nullable=False),
        sa.Column("claim_lon", sa.Float, nullable=False),
        sa.Column("claim_lat", sa.Float, nullable=False),
        sa.Column("claim_crs", sa.String(8), nullable=False),
        sa.Column("accuracy_m", sa.Float),
        sa.Column("location", Geometry("POINT", srid=4326, spatial_index=False),
                  nullable=False),
        _uuid("site_id", index=True),
        sa.Column("verdict", sa.String(16), nullable=False, index=True),
        sa.CheckConstraint("claim_crs IN ('wgs84', 'gcj02', 'bd09')", name="reports_crs_known"),
    )
    op.create_index("idx_reports_location", "reports", ["location"], postgresql_using="gist")
    op.create_table(
        "photos",
        _uuid("id", primary_key=True),
        _uuid("report_id", sa.ForeignKey("reports.id"), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("filename", sa.String(255)),
        sa.Column("exif", pg.JSONB, nullable=False),
        sa.Column("checks", pg.JSONB, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False, index=True),
        _ts("capture_time"),
        sa.Column("exif_location", Geometry("POINT", srid=4326, spatial_index=False)),
        sa.Column("phash", sa.BigInteger),
        _ts("received_at", nullable=False),
        sa.Column("receipt_hash", sa.String(64), nullable=False),
        _ts("checked_at", nullable=False),
        sa.UniqueConstraint("report_id", "position", name="photos_report_position"),
    )
    op.create_index("idx_photos_exif_location", "photos", ["exif_location"],
                    postgresql_using="gist")
    op.create_table(
        "custody_events",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        _uuid("id", nullable=False, unique=True),
        _ts("occurred_at", nullable=False),
        _uuid("actor_id"),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        _uuid("subject_id", nullable=False, index=True),
        sa.Column("details", pg.JSONB, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute("""
        CREATE TRIGGER custody_events_no_update_delete
        BEFORE UPDATE OR DELETE ON custody_events
        FOR EACH ROW EXECUTE FUNCTION custody_events_append_only()
    """)
    op.execute("""
        CREATE TRIGGER custody_events_no_truncate
        BEFORE TRUNCATE ON custody_events
        FOR EACH STATEMENT EXECUTE FUNCTION custody_events_append_only()
    """)


def downgrade():
    # The custody chain is evidence: there is no downgrade that drops it.
    raise RuntimeError("the foundation migration cannot be reverted")
