"""Complaints filed with the authorities, their deadlines and dated updates.

Revision ID: 0011_complaints
Revises: 0010_privacy
Create Date: 2026-12-01
"""
from alembic import op  # noqa: F401

revision = "0011_complaints"
down_revision = "0010_privacy"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
