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


APP_ROLE = "fieldapp_app"


def upgrade():
    # The role the server runs as (through a login role that is a member of it). It is
    # cluster-wide, so it may exist already from another database of the same server.
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
        END $$
    """)


def downgrade():
    pass
