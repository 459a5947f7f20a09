"""Pixel analysis after receipt: photos waiting for their decode are marked and indexed.

Revision ID: 0004_pixel_analysis
Revises: 0003_hotspots
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_pixel_analysis"
down_revision = "0003_hotspots"
branch_labels = None
depends_on = None


def upgrade():
    # NULL until the pixels have been decoded, hashed and compared (reports.analysis).
    op.add_column("photos", sa.Column("analysed_at", sa.DateTime(timezone=True)))
    # Photos stored before this revision were analysed while they were received.
    op.execute("UPDATE photos SET analysed_at = checked_at")
    # The analysers' queue: the oldest unanalysed photo, found without a scan.
    op.create_index("photos_awaiting_analysis", "photos", ["received_at"],
                    postgresql_where=sa.text("analysed_at IS NULL"))


def downgrade():
    op.drop_index("photos_awaiting_analysis", table_name="photos")
    op.drop_column("photos", "analysed_at")
