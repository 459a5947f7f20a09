"""Sites, report-site links, reviews, cases, evidence items, frozen dossiers.

Revision ID: 0002_sites_cases_dossiers
Revises: 0001_foundation
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0002_sites_cases_dossiers"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def _uuid(name, *args, **kw):
    return sa.Column(name, pg.UUID(as_uuid=True), *args, **kw)


def _ts(name, **kw):
    return sa.Column(name, sa.DateTime(timezone=True), **kw)


def upgrade():
    op.create_table(
        "sites",
        _uuid("id", primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("name_en", sa.String(300)),
        sa.Column("operator", sa.String(300)),
        sa.Column("uscc", sa.String(18), index=True),
        sa.Column("permit_number", sa.String(64)),
        sa.Column("industry", sa.String(120)),
        sa.Column("address", sa.Text),
        sa.Column("region", sa.String(120)),
        sa.Column("status", sa.String(24), nullable=False, index=True),
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.CheckConstraint("status IN ('active', 'closed', 'under_investigation')",
                           name="sites_status_known"),
        sa.CheckConstraint("GeometryType(geom) IN ('POINT', 'POLYGON', 'MULTIPOLYGON')",
                           name="sites_geom_type"),
        sa.CheckConstraint("ST_IsValid(geom)", name="sites_geom_valid"),
    )
    op.create_index("idx_sites_geom", "sites", ["geom"], postgresql_using="gist")
    # Linking measures metres on the geography; this index serves ST_DWithin on it.
    op.execute("CREATE INDEX idx_sites_geog ON sites USING gist ((geom::geography))")
    op.execute("CREATE INDEX idx_reports_geog ON reports USING gist ((location::geography))")

    op.create_foreign_key("reports_site_fk", "reports", "sites", ["site_id"], ["id"])
    op.add_column("reports", sa.Column("site_link", sa.String(8)))
    op.add_column("reports", sa.Column("site_distance_m", sa.Float))
    op.create_check_constraint("reports_site_link_known", "reports",
                               "site_link IN ('claimed', 'auto', 'manual')")

    op.create_table(
        "reviews",
        _uuid("id", primary_key=True),
        _uuid("photo_id", sa.ForeignKey("photos.id"), nullable=False, index=True),
        _uuid("reviewer_id", sa.ForeignKey("users.id"), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _ts("created_at", nullable=False),
        sa.Column("custody_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("decision IN ('accepted', 'rejected', 'needs_more')",
                           name="reviews_decision_known"),
        sa.CheckConstraint("decision <> 'rejected' OR length(trim(reason)) > 0",
                           name="reviews_rejection_has_reason"),
    )
    op.create_table(
        "cases",
        _uuid("id", primary_key=True),
        _uuid("site_id", sa.ForeignKey("sites.id"), nullable=False, index=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("authority", sa.String(300)),
        sa.Column("case_number", sa.String(120)),
        sa.Column("legal_status", sa.String(32), nullable=False),
        _uuid("created_by", sa.ForeignKey("users.id"), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.CheckConstraint(
            "legal_status IN ('monitoring', 'complaint_filed', 'disclosure_requested', "
            "'litigation_filed', 'judged', 'closed')", name="cases_legal_status_known"),
    )
    op.create_table(
        "case_entries",
        _uuid("id", primary_key=True),
        _uuid("case_id", sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("happened_on", sa.Date, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        _ts("created_at", nullable=False),
    )
    op.create_table(
        "evidence_items",
        _uuid("id", primary_key=True),
        _uuid("case_id", sa.ForeignKey("cases.id"), nullable=False, index=True),
        _uuid("photo_id", sa.ForeignKey("photos.id"), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("include_rejected", sa.Boolean, nullable=False),
        _ts("created_at", nullable=False),
        sa.UniqueConstraint("case_id", "photo_id", name="evidence_items_once"),
    )
    op.create_table(
        "dossiers",
        _uuid("id", primary_key=True),
        _uuid("case_id", sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        _uuid("created_by", sa.ForeignKey("users.id"), nullable=False),
        _ts("created_at", nullable=False),
        sa.Column("manifest", sa.LargeBinary, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("public_key_pem", sa.LargeBinary, nullable=False),
        sa.Column("catalog_sha256", sa.String(64), nullable=False),
        sa.Column("custody_sha256", sa.String(64), nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("total_bytes", sa.BigInteger, nullable=False),
        sa.Column("custody_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "number", name="dossiers_number_per_case"),
    )
    # A frozen export is evidence of what was handed over, and a review decision is part of
    # a photo's history: neither is ever changed or removed.
    op.execute("""
        CREATE FUNCTION refuse_change() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$ LANGUAGE plpgsql
    """)
    op.execute("""
        CREATE TRIGGER dossiers_no_update_delete BEFORE UPDATE OR DELETE ON dossiers
        FOR EACH ROW EXECUTE FUNCTION refuse_change()
    """)
    op.execute("""
        CREATE TRIGGER reviews_no_update_delete BEFORE UPDATE OR DELETE ON reviews
        FOR EACH ROW EXECUTE FUNCTION refuse_change()
    """)


def downgrade():
    raise RuntimeError("cases, reviews and dossiers are evidence records: no downgrade")
