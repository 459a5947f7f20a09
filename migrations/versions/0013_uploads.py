"""Resumable uploads (tus 1.0): an upload's offset, checksum and expiry.

Revision ID: 0013_uploads
Revises: 0012_tasks
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0013_uploads"
down_revision = "0012_tasks"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"


def upgrade():
    op.create_table(
        "uploads",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("owner_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"),
                  nullable=False, index=True),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False),
        # Upload-Metadata exactly as sent (validated ASCII), echoed on HEAD as tus requires.
        sa.Column("metadata", sa.Text),
        sa.Column("filename", sa.String(255)),
        # The SHA-256 of the whole file, known once the last byte has arrived.
        sa.Column("sha256", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        # The report whose photo the upload became; it can never be used again.
        sa.Column("report_id", pg.UUID(as_uuid=True), sa.ForeignKey("reports.id"),
                  index=True),
        sa.Column("consumed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("length > 0 AND received BETWEEN 0 AND length",
                           name="uploads_offset_within_length"),
        sa.CheckConstraint("(sha256 IS NULL) = (finished_at IS NULL)",
                           name="uploads_hash_when_finished"),
        sa.CheckConstraint("(report_id IS NULL) = (consumed_at IS NULL)",
                           name="uploads_consumed_by_report"),
    )
    # The sweep looks for unused uploads past their expiry.
    op.create_index("uploads_unused_expiry", "uploads", ["expires_at"],
                    postgresql_where=sa.text("report_id IS NULL"))
    # Rows are made and advanced by the app, and removed when terminated or swept; what
    # they were created with (owner, length, metadata, expiry) is never changed.
    op.execute(f"GRANT SELECT, INSERT, DELETE ON uploads TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE (received, sha256, finished_at, report_id, consumed_at) "
               f"ON uploads TO {APP_ROLE}")


def downgrade():
    op.drop_table("uploads")
