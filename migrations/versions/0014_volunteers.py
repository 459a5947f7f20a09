"""Volunteers: service records, corrections, certificates, real names kept apart.

Revision ID: 0014_volunteers
Revises: 0013_uploads
Create Date: 2026-12-01
"""
from alembic import op  # noqa: F401

revision = "0014_volunteers"
down_revision = "0013_uploads"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
