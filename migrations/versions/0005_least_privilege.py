"""Least privilege: the fieldapp_app role and exactly what it may do.

Revision ID: 0005_least_privilege
Revises: 0004_pixel_analysis
Create Date: 2026-12-01
"""
from alembic import op  # noqa: F401

revision = "0005_least_privilege"
down_revision = "0004_pixel_analysis"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
