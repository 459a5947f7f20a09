"""RFC 3161 anchors of the custody chain.

Revision ID: 0006_anchors
Revises: 0005_least_privilege
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_anchors"
down_revision = "0005_least_privilege"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"


def upgrade():
    op.create_table(
        "custody_anchors",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        # The anchored event: its seq and hash, as the time-stamping authority saw them.
        sa.Column("seq", sa.BigInteger, sa.ForeignKey("custody_events.seq"), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("tsa_url", sa.Text, nullable=False),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("serial_number", sa.Numeric(60, 0), nullable=False),
        # The DER TimeStampResp exactly as received: the token a court verifies.
        sa.Column("response", postgresql.BYTEA, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.UniqueConstraint("seq", "tsa_url", name="custody_anchors_seq_tsa_key"),
    )
    op.create_index("custody_anchors_tsa_seq_idx", "custody_anchors", ["tsa_url", "seq"])
    # Anchors are evidence: once recorded they are never changed (refuse_change is 0002's).
    op.execute("""
        CREATE TRIGGER custody_anchors_no_update_delete BEFORE UPDATE OR DELETE
        ON custody_anchors FOR EACH ROW EXECUTE FUNCTION refuse_change()
    """)
    op.execute("""
        CREATE TRIGGER custody_anchors_no_truncate BEFORE TRUNCATE
        ON custody_anchors FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()
    """)
    # The app may record and read anchors, nothing more (the identity column needs no
    # sequence grant).
    op.execute(f"GRANT SELECT, INSERT ON custody_anchors TO {APP_ROLE}")


def downgrade():
    op.drop_table("custody_anchors")
