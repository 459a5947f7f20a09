"""Intake limits: pixel budget outcomes, daily quotas.

Revision ID: 0009_intake_limits
Revises: 0008_accounts_security
Create Date: 2026-12-01
"""
from alembic import op  # noqa: F401

revision = "0009_intake_limits"
down_revision = "0008_accounts_security"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
