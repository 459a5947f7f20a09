"""RFC 3161 anchors of the custody chain.

Revision ID: 0006_anchors
Revises: 0005_least_privilege
Create Date: 2026-12-01
"""
from alembic import op  # noqa: F401

revision = "0006_anchors"
down_revision = "0005_least_privilege"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
