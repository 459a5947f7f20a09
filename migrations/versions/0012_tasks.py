"""Monitoring tasks: requests, tasks, claims, check-ins and evaluations.

Revision ID: 0012_tasks
Revises: 0011_complaints
Create Date: 2026-12-01
"""
from alembic import op  # noqa: F401

revision = "0012_tasks"
down_revision = "0011_complaints"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
