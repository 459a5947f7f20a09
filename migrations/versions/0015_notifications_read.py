"""Notifications are marked read; reviews of a volunteer's photos are stored notifications.

A review of one's photo used to be worked out from the reviews table each time the home
screen was read, so it had no id to mark read. It is now written as a notification when the
review is recorded (reviews.service), and the reviews made before this revision are written
here once, unread: nothing ever recorded that anyone read them.

Revision ID: 0015_notifications_read
Revises: 0014_volunteers
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0015_notifications_read"
down_revision = "0014_volunteers"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"


def upgrade():
    op.add_column("notifications", sa.Column("read_at", sa.DateTime(timezone=True)))
    op.add_column("notifications", sa.Column("report_id", pg.UUID(as_uuid=True),
                                             sa.ForeignKey("reports.id")))
    op.add_column("notifications", sa.Column("photo_id", pg.UUID(as_uuid=True),
                                             sa.ForeignKey("photos.id")))
    # Every answer counts the user's unread notifications: a small index of those only.
    op.create_index("notifications_user_unread", "notifications", ["user_id"],
                    postgresql_where=sa.text("read_at IS NULL"))
    # The same words as volunteers.overview.review_notice.
    op.execute("""
        INSERT INTO notifications (id, user_id, kind, message, report_id, photo_id, created_at)
        SELECT gen_random_uuid(), reports.volunteer_id, 'report_' || reviews.decision,
               CASE reviews.decision
                   WHEN 'accepted' THEN 'A coordinator accepted your photo.'
                   WHEN 'rejected' THEN 'A coordinator rejected your photo'
                   ELSE 'A coordinator asks for more about your photo' END
               || CASE WHEN reviews.decision <> 'accepted' AND reviews.reason <> ''
                       THEN ': ' || reviews.reason ELSE '' END,
               reports.id, photos.id, reviews.created_at
        FROM reviews JOIN photos ON photos.id = reviews.photo_id
        JOIN reports ON reports.id = photos.report_id
    """)
    # Reading is the only change a notification ever takes; what it said stays as it was.
    op.execute(f"GRANT UPDATE (read_at) ON notifications TO {APP_ROLE}")


def downgrade():
    op.execute(f"REVOKE UPDATE (read_at) ON notifications FROM {APP_ROLE}")
    op.execute("DELETE FROM notifications WHERE kind LIKE 'report\\_%'")
    op.drop_index("notifications_user_unread", table_name="notifications")
    for column in ("photo_id", "report_id", "read_at"):
        op.drop_column("notifications", column)
