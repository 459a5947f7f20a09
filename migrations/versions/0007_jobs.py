"""One background job mechanism; dossier freezes as jobs.

Revision ID: 0007_jobs
Revises: 0006_anchors
Create Date: 2026-12-01
"""
from alembic import op  # noqa: F401

revision = "0007_jobs"
down_revision = "0006_anchors"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
