"""Notifications are marked read; reviews of a volunteer's photos are stored notifications.

Revision ID: 0015_notifications_read
Revises: 0014_volunteers
Create Date: 2026-12-02
"""

revision = "0015_notifications_read"
down_revision = "0014_volunteers"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
