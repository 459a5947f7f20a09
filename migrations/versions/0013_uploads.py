"""Resumable uploads (tus 1.0): an upload's offset, checksum and expiry.

Revision ID: 0013_uploads
Revises: 0012_tasks
Create Date: 2026-12-01
"""
from alembic import op  # noqa: F401

revision = "0013_uploads"
down_revision = "0012_tasks"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
