"""A complaint's further evidence: an update may cite reports sent after the filing.

Revision ID: 0016_complaint_supplements
Revises: 0015_notifications_read
Create Date: 2026-12-02
"""

revision = "0016_complaint_supplements"
down_revision = "0015_notifications_read"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
