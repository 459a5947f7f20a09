"""Monitoring tasks: requests, tasks, claims, check-ins and evaluations.

Revision ID: 0012_tasks
Revises: 0011_complaints
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0012_tasks"
down_revision = "0011_complaints"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"
# Records of what happened: appended, never changed or removed by anyone.
APPEND_ONLY = ("claim_evaluations", "task_reports", "task_events")


def _uuid(name, *args, **kwargs):
    return sa.Column(name, pg.UUID(as_uuid=True), *args, **kwargs)


def _time(name, **kwargs):
    return sa.Column(name, sa.DateTime(timezone=True), **kwargs)


def _point(name, nullable):
    return sa.Column(name, Geometry("POINT", srid=4326, spatial_index=False),
                     nullable=nullable)


def _claimed_place(nullable):
    """The place exactly as sent (numbers and crs) beside the converted WGS-84 point."""
    return [sa.Column("claim_lon", sa.Float, nullable=nullable),
            sa.Column("claim_lat", sa.Float, nullable=nullable),
            sa.Column("claim_crs", sa.String(8), nullable=nullable),
            _point("location", nullable)]


def upgrade():
    op.create_table(
        "monitoring_requests",
        _uuid("id", primary_key=True),
        _uuid("requester_id", sa.ForeignKey("users.id"), nullable=False, index=True),
        _uuid("site_id", sa.ForeignKey("sites.id")),
        *_claimed_place(nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("urgency", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        _time("status_at", nullable=False),
        sa.Column("decline_reason", sa.Text),
        sa.Column("rating", sa.SmallInteger),
        sa.Column("rating_comment", sa.Text),
        _time("rated_at"),
        _time("created_at", nullable=False),
        sa.CheckConstraint("site_id IS NOT NULL OR location IS NOT NULL",
                           name="monitoring_requests_site_or_place"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="monitoring_requests_rating_range"),
    )
    op.create_table(
        "tasks",
        _uuid("id", primary_key=True),
        _uuid("request_id", sa.ForeignKey("monitoring_requests.id"), unique=True),
        _uuid("site_id", sa.ForeignKey("sites.id"), index=True),
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False)),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("instructions", sa.Text, nullable=False),
        _time("starts_at", nullable=False),
        _time("ends_at", nullable=False),
        sa.Column("slots", sa.Integer, nullable=False),
        sa.Column("categories", pg.JSONB, nullable=False),
        sa.Column("photos_required", sa.Integer, nullable=False),
        sa.Column("reach_m", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        _time("status_at", nullable=False),
        _uuid("created_by", sa.ForeignKey("users.id"), nullable=False),
        _time("created_at", nullable=False),
        sa.CheckConstraint("site_id IS NOT NULL OR geom IS NOT NULL",
                           name="tasks_site_or_place"),
        sa.CheckConstraint("slots > 0 AND photos_required >= 0 AND reach_m > 0",
                           name="tasks_positive_numbers"),
        sa.CheckConstraint("starts_at < ends_at", name="tasks_window"),
    )
    op.create_table(
        "claims",
        _uuid("id", primary_key=True),
        _uuid("task_id", sa.ForeignKey("tasks.id"), nullable=False, index=True),
        _uuid("volunteer_id", sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        _time("status_at", nullable=False),
        _time("claimed_at", nullable=False),
        _time("expires_at", nullable=False),
    )
    # The sweep looks for active claims past their expiry.
    op.create_index("claims_active_expiry", "claims", ["expires_at"],
                    postgresql_where=sa.text("status = 'active'"))
    op.create_table(
        "claim_visits",
        _uuid("id", primary_key=True),
        _uuid("claim_id", sa.ForeignKey("claims.id"), nullable=False, index=True),
        _time("checked_in_at", nullable=False),
        *_claimed_place(nullable=False),
        sa.Column("distance_m", sa.Float, nullable=False),
        _time("checked_out_at"),
        sa.Column("on_site_s", sa.Integer),
    )
    op.create_table(
        "claim_evaluations",
        _uuid("id", primary_key=True),
        _uuid("claim_id", sa.ForeignKey("claims.id"), nullable=False, index=True),
        _uuid("task_id", sa.ForeignKey("tasks.id"), nullable=False, index=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("rating", sa.SmallInteger, nullable=False),
        _uuid("evaluator_id", sa.ForeignKey("users.id"), nullable=False),
        _time("created_at", nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="claim_evaluations_rating_range"),
    )
    op.create_table(
        "task_reports",
        _uuid("report_id", sa.ForeignKey("reports.id"), primary_key=True),
        _uuid("claim_id", sa.ForeignKey("claims.id"), nullable=False, index=True),
        _uuid("task_id", sa.ForeignKey("tasks.id"), nullable=False, index=True),
        _time("created_at", nullable=False),
    )
    op.create_table(
        "task_events",
        # In the order recorded (an identity column needs no sequence grant).
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("subject_type", sa.String(8), nullable=False),
        _uuid("subject_id", nullable=False, index=True),
        _uuid("task_id", index=True),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16)),
        _uuid("actor_id", sa.ForeignKey("users.id")),
        _time("at", nullable=False),
        sa.Column("details", pg.JSONB, nullable=False),
    )
    op.create_table(
        "volunteer_areas",
        _uuid("user_id", sa.ForeignKey("users.id"), primary_key=True),
        *_claimed_place(nullable=False),
        sa.Column("radius_m", sa.Integer, nullable=False),
        _time("updated_at", nullable=False),
        sa.CheckConstraint("radius_m > 0", name="volunteer_areas_radius_positive"),
    )
    op.create_table(
        "notifications",
        _uuid("id", primary_key=True),
        _uuid("user_id", sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        _uuid("task_id", sa.ForeignKey("tasks.id")),
        _uuid("claim_id", sa.ForeignKey("claims.id")),
        _uuid("request_id", sa.ForeignKey("monitoring_requests.id")),
        _time("created_at", nullable=False),
    )
    # A user's list is read newest first.
    op.create_index("notifications_user_newest", "notifications", ["user_id", "created_at"])
    for table in APPEND_ONLY:
        # refuse_change() is 0002's.
        op.execute(f"""
            CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION refuse_change()
        """)
        op.execute(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()
        """)
    # Exactly what the app needs: record and read; move only the columns a workflow moves.
    op.execute(f"GRANT SELECT, INSERT ON monitoring_requests, tasks, claims, claim_visits, "
               f"{', '.join(APPEND_ONLY)}, volunteer_areas, notifications TO {APP_ROLE}")
    op.execute("GRANT UPDATE (status, status_at, decline_reason, rating, rating_comment, "
               f"rated_at) ON monitoring_requests TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE (status, status_at) ON tasks TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE (status, status_at, expires_at) ON claims TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE (checked_out_at, on_site_s) ON claim_visits TO {APP_ROLE}")
    op.execute("GRANT UPDATE (claim_lon, claim_lat, claim_crs, location, radius_m, updated_at) "
               f"ON volunteer_areas TO {APP_ROLE}")


def downgrade():
    raise RuntimeError("tasks, claims and their events are volunteers' service history: "
                       "no downgrade")
