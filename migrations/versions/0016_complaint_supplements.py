"""A complaint's further evidence: an update of kind `supplemented` cites reports sent to the
authority after the filing, which keeps the reports it cited as filed.

The column is null on every other update, and on every update made before it: those rows'
custody digests were computed without it, and still are (custody.binding.ADDED_LATER).

Revision ID: 0016_complaint_supplements
Revises: 0015_notifications_read
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0016_complaint_supplements"
down_revision = "0015_notifications_read"
branch_labels = None
depends_on = None


def upgrade():
    # The cited reports' ids as JSON text, in the order sent, like complaints.report_ids.
    # complaint_updates refuses every UPDATE and DELETE (0011); the app's INSERT grant is
    # the table's, so it covers the new column.
    op.add_column("complaint_updates", sa.Column("report_ids", pg.JSONB))
    op.create_check_constraint(
        "complaint_updates_reports_only_supplemented", "complaint_updates",
        "(kind = 'supplemented') = (report_ids IS NOT NULL) AND "
        "(report_ids IS NULL OR (jsonb_typeof(report_ids) = 'array' "
        "AND jsonb_array_length(report_ids) > 0))")


def downgrade():
    raise RuntimeError("complaint updates are evidence records: no downgrade")
