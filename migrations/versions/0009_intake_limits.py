"""Intake limits: pixel budget outcomes, daily quotas.

A photo whose pixels could not be analysed (over the pixel budget, undecodable) keeps the
reason in photos.analysis_error, which the analysis writes; photo_decodes counts decodes
that started and never ended (their process died), so a photo that kills its decoder is not
decoded forever. Daily quotas count each volunteer's reports of the last 24 hours, found
through an index on (volunteer, receipt).

Revision ID: 0009_intake_limits
Revises: 0008_accounts_security
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_intake_limits"
down_revision = "0008_accounts_security"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"


def upgrade():
    op.add_column("photos", sa.Column("analysis_error", sa.Text()))
    # Written by the analysis and by recheck, never by anything else.
    op.execute(f"GRANT UPDATE (analysis_error) ON TABLE photos TO {APP_ROLE}")
    # No foreign key to photos: see reports.analysis (it is written while the photo is locked).
    op.create_table(
        "photo_decodes",
        sa.Column("photo_id", sa.Uuid(), primary_key=True),
        sa.Column("unfinished", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE (unfinished, started_at) ON TABLE photo_decodes "
               f"TO {APP_ROLE}")
    op.create_index("reports_by_volunteer_received", "reports",
                    ["volunteer_id", "received_at"])


def downgrade():
    op.drop_index("reports_by_volunteer_received", table_name="reports")
    op.drop_table("photo_decodes")
    op.execute(f"REVOKE UPDATE (analysis_error) ON TABLE photos FROM {APP_ROLE}")
    op.drop_column("photos", "analysis_error")
