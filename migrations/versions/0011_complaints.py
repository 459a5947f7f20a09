"""Complaints filed with the authorities, their deadlines and dated updates.

Revision ID: 0011_complaints
Revises: 0010_privacy
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0011_complaints"
down_revision = "0010_privacy"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"
# What a complaint's updates move: its status, when it was decided and answered, and the
# extension of its result deadline. Everything else is what was filed, bound into custody.
STATUS_COLUMNS = ("status", "status_at", "decided_at", "replied_at", "extension_days",
                  "updated_at")
FILED_COLUMNS = ("id", "site_id", "channel", "number", "authority", "summary", "filed_at",
                 "report_ids", "filed_by", "created_at", "accept_due_at", "result_due_at",
                 "custody_hash")


def _uuid(name, *args, **kwargs):
    return sa.Column(name, pg.UUID(as_uuid=True), *args, **kwargs)


def upgrade():
    op.create_table(
        "complaints",
        _uuid("id", primary_key=True),
        _uuid("site_id", sa.ForeignKey("sites.id"), nullable=False, index=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("number", sa.String(120), nullable=False),
        sa.Column("authority", sa.String(300), nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        # The cited reports' ids as JSON text, in the order cited: bound into custody as
        # they stand (reports are never deleted, and the service checks each exists).
        sa.Column("report_ids", pg.JSONB, nullable=False),
        _uuid("filed_by", sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accept_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extension_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("replied_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("custody_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("channel", "authority", "number", name="complaints_number_once"),
        sa.CheckConstraint("extension_days >= 0", name="complaints_extension_not_negative"),
    )
    # Overdue listings filter on status and the deadlines.
    op.create_index("complaints_open_deadlines", "complaints",
                    ["status", "accept_due_at", "result_due_at"])
    op.create_table(
        "complaint_updates",
        _uuid("id", primary_key=True),
        _uuid("complaint_id", sa.ForeignKey("complaints.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_text", sa.Text),
        sa.Column("outcome", sa.Text),
        sa.Column("penalty_number", sa.String(120)),
        sa.Column("extension_days", sa.Integer),
        sa.Column("reason", sa.Text),
        _uuid("recorded_by", sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("custody_hash", sa.String(64), nullable=False),
    )
    # An update is what the authority did, as recorded: never changed or removed, by anyone
    # (refuse_change() is 0002's). A complaint keeps what was filed; only its status moves.
    op.execute("""
        CREATE TRIGGER complaint_updates_no_update_delete
        BEFORE UPDATE OR DELETE ON complaint_updates
        FOR EACH ROW EXECUTE FUNCTION refuse_change()
    """)
    filed = ", ".join(FILED_COLUMNS)
    new = ", ".join(f"NEW.{column}" for column in FILED_COLUMNS)
    old = ", ".join(f"OLD.{column}" for column in FILED_COLUMNS)
    op.execute(f"""
        CREATE FUNCTION complaints_keep_filing() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR ROW({new}) IS DISTINCT FROM ROW({old}) THEN
                RAISE EXCEPTION 'complaints keep what was filed ({filed}): % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
    """)
    op.execute("""
        CREATE TRIGGER complaints_keep_filing BEFORE UPDATE OR DELETE ON complaints
        FOR EACH ROW EXECUTE FUNCTION complaints_keep_filing()
    """)
    # Exactly what the app needs: file and append; move only the status columns.
    op.execute(f"GRANT SELECT, INSERT ON complaints, complaint_updates TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE ({', '.join(STATUS_COLUMNS)}) ON complaints TO {APP_ROLE}")


def downgrade():
    raise RuntimeError("complaints and their updates are evidence records: no downgrade")
