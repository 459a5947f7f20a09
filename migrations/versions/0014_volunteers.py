"""Volunteers: service records, corrections, certificates, real names kept apart.

Revision ID: 0014_volunteers
Revises: 0013_uploads
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0014_volunteers"
down_revision = "0013_uploads"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"
# What happened is never rewritten: a request, its resolution, a certificate issued.
APPEND_ONLY = ("service_record_corrections", "service_record_resolutions", "certificates",
               "volunteer_trainings")


def _now():
    return sa.text("now()")


def upgrade():
    op.create_table(
        "service_record_corrections",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False,
                  index=True),
        sa.Column("claim_id", pg.UUID(as_uuid=True), sa.ForeignKey("claims.id"),
                  nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=_now()),
    )
    op.create_table(
        "service_record_resolutions",
        # One resolution per request: a decision, once made, stands.
        sa.Column("correction_id", pg.UUID(as_uuid=True),
                  sa.ForeignKey("service_record_corrections.id"), primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("resolver_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"),
                  nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=_now()),
        sa.CheckConstraint("decision IN ('accepted', 'rejected')",
                           name="service_record_resolutions_decision"),
    )
    op.create_table(
        "volunteer_identities",
        sa.Column("user_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"),
                  primary_key=True),
        sa.Column("real_name", sa.String(100), nullable=False),
        sa.Column("document_type", sa.String(32)),
        sa.Column("document_number", sa.String(64)),
        sa.Column("updated_by", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=_now()),
    )
    op.create_table(
        "certificates",
        sa.Column("number", sa.String(32), primary_key=True),
        sa.Column("user_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False,
                  index=True),
        sa.Column("fields", pg.JSONB, nullable=False),
        sa.Column("fields_sha256", sa.String(64), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("key_fingerprint", sa.String(80), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=_now()),
        sa.Column("issued_by", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"),
                  nullable=False),
    )
    op.create_table(
        "volunteer_trainings",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False,
                  index=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("hours", sa.Numeric(6, 2), nullable=False),
        sa.Column("organiser", sa.String(300)),
        sa.Column("recorded_by", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"),
                  nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=_now()),
        sa.CheckConstraint("hours > 0", name="volunteer_trainings_hours"),
    )
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
    op.execute(f"GRANT SELECT, INSERT ON {', '.join(APPEND_ONLY)} TO {APP_ROLE}")
    # A real name is kept current by an admin (PUT), never deleted by the app.
    op.execute(f"GRANT SELECT, INSERT ON volunteer_identities TO {APP_ROLE}")
    op.execute("GRANT UPDATE (real_name, document_type, document_number, updated_by, "
               f"updated_at) ON volunteer_identities TO {APP_ROLE}")


def downgrade():
    raise RuntimeError("corrections and certificates issued are volunteers' service history: "
                       "no downgrade")
