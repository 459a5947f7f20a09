"""Hotspots: verified flags, H3 cells and per-day hex counts kept at ingest, site risk.

Revision ID: 0003_hotspots
Revises: 0002_sites_cases_dossiers
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0003_hotspots"
down_revision = "0002_sites_cases_dossiers"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("photos", sa.Column("verified", sa.Boolean, nullable=False,
                                      server_default=sa.false()))
    op.add_column("reports", sa.Column("verified", sa.Boolean, nullable=False,
                                       server_default=sa.false()))
    op.add_column("reports", sa.Column("h3_cell", sa.BigInteger))
    op.execute("""
        UPDATE photos SET verified = (verdict = 'consistent');
        UPDATE reports r SET verified = EXISTS (
            SELECT 1 FROM photos p WHERE p.report_id = r.id AND p.verified);
    """)
    op.create_index("reports_unlinked_observed", "reports", ["observed_at"],
                    postgresql_where=sa.text("site_id IS NULL"))
    # Every H3 cell any report falls in, at every kept resolution, with its shape.
    op.create_table(
        "h3_cells",
        sa.Column("cell", sa.BigInteger, primary_key=True),
        sa.Column("res", sa.SmallInteger, nullable=False),
        sa.Column("center", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("boundary", Geometry("POLYGON", srid=4326, spatial_index=False),
                  nullable=False),
    )
    # One spatial index per resolution: a map asks for one resolution in an area, and a
    # single index over all of them would hand back every finer cell there too.
    for res in range(2, 10):
        op.execute(f"CREATE INDEX idx_h3_cells_boundary_r{res} ON h3_cells "
                   f"USING gist (boundary) WHERE res = {res}")
    # Reports counted per cell, UTC day, category and verified flag, kept at ingest, so that
    # aggregation never joins a generated grid against every point.
    op.create_table(
        "hex_counts",
        sa.Column("res", sa.SmallInteger, nullable=False),
        sa.Column("cell", sa.BigInteger, sa.ForeignKey("h3_cells.cell"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("res", "cell", "day", "category", "verified"),
        sa.CheckConstraint("reports >= 0", name="hex_counts_not_negative"),
    )
    # The same counts over all time: what a map without a time window reads, so the whole
    # country is a few thousand rows rather than one per cell and day.
    op.create_table(
        "hex_totals",
        sa.Column("res", sa.SmallInteger, nullable=False),
        sa.Column("cell", sa.BigInteger, sa.ForeignKey("h3_cells.cell"), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("res", "cell", "category", "verified"),
        sa.CheckConstraint("reports >= 0", name="hex_totals_not_negative"),
    )
    op.create_table(
        "site_risk",
        sa.Column("site_id", pg.UUID(as_uuid=True), sa.ForeignKey("sites.id"),
                  primary_key=True),
        sa.Column("components", pg.JSONB, nullable=False),
        sa.Column("open_cases", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("site_risk")
    op.drop_table("hex_totals")
    op.drop_table("hex_counts")
    op.drop_table("h3_cells")
    op.drop_index("reports_unlinked_observed", "reports")
    op.drop_column("reports", "h3_cell")
    op.drop_column("reports", "verified")
    op.drop_column("photos", "verified")
