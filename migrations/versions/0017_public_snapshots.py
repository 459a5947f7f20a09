"""The public layer is published once a UTC day, from a capture of the day before: a cell
that appeared minutes after a volunteer's visit told anyone polling the map that someone
had just been there.

Revision ID: 0017_public_snapshots
Revises: 0016_complaint_supplements
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_public_snapshots"
down_revision = "0016_complaint_supplements"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"


def upgrade():
    # One row per capture of public_cells: at most one a UTC day, taken by the first public
    # request of the day; the public layer reads an older one (hotspots.publication).
    op.create_table(
        "public_snapshots",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("public_snapshots_newest", "public_snapshots",
                    [sa.text("taken_at DESC")])
    # The cells a capture found with enough distinct volunteers, as public_cells had them.
    op.create_table(
        "public_snapshot_cells",
        sa.Column("snapshot_id", sa.BigInteger,
                  sa.ForeignKey("public_snapshots.id", ondelete="CASCADE"), nullable=False),
        sa.Column("res", sa.SmallInteger, nullable=False),
        sa.Column("cell", sa.BigInteger, sa.ForeignKey("h3_cells.cell"), nullable=False),
        sa.Column("volunteers", sa.Integer, nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "res", "cell"),
    )
    # Captures are made and, once a newer one is shown, removed; never changed.
    op.execute(f"GRANT SELECT, INSERT, DELETE ON public_snapshots, public_snapshot_cells "
               f"TO {APP_ROLE}")


def downgrade():
    op.drop_table("public_snapshot_cells")
    op.drop_table("public_snapshots")
