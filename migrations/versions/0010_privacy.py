"""Volunteers unexposed: distinct volunteers per public cell, staff access log.

Revision ID: 0010_privacy
Revises: 0009_intake_limits
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0010_privacy"
down_revision = "0009_intake_limits"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"
# The public layer never shows a cell finer than resolution 7 (~5.2 km²), so distinct
# volunteers are only kept where it can look.
PUBLIC_RESOLUTIONS = tuple(range(2, 8))


def upgrade():
    # Verified reports per volunteer per cell: how the count of distinct volunteers below
    # is kept exact when a review takes a volunteer's only verified report away again.
    op.create_table(
        "cell_volunteers",
        sa.Column("res", sa.SmallInteger, nullable=False),
        sa.Column("cell", sa.BigInteger, sa.ForeignKey("h3_cells.cell"), nullable=False),
        sa.Column("volunteer_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"),
                  nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("res", "cell", "volunteer_id"),
        sa.CheckConstraint("reports >= 0", name="cell_volunteers_not_negative"),
    )
    # What the public layer reads, one row per cell: distinct volunteers with verified
    # evidence there (the k-anonymity gate) and their verified reports (shown in bands).
    op.create_table(
        "public_cells",
        sa.Column("res", sa.SmallInteger, nullable=False),
        sa.Column("cell", sa.BigInteger, sa.ForeignKey("h3_cells.cell"), nullable=False),
        sa.Column("volunteers", sa.Integer, nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("res", "cell"),
        sa.CheckConstraint("volunteers >= 0 AND reports >= 0",
                           name="public_cells_not_negative"),
    )
    _backfill()
    # Bulk reads by staff, one row per user, endpoint, filters and minute.
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("user_id", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"),
                  nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("filters", pg.JSONB, nullable=False),
        sa.Column("filters_key", sa.String(64), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("rows", sa.BigInteger),
        sa.Column("west", sa.Float), sa.Column("south", sa.Float),
        sa.Column("east", sa.Float), sa.Column("north", sa.Float),
        sa.UniqueConstraint("user_id", "endpoint", "filters_key", "minute",
                            name="access_log_one_row_a_minute"),
    )
    op.create_index("access_log_newest", "access_log", [sa.text("minute DESC"), "id"])
    op.create_index("access_log_user_newest", "access_log",
                    ["user_id", sa.text("minute DESC")])

    # Exactly what the app needs: counts move both ways, the log is only ever added to.
    op.execute(f"GRANT SELECT, INSERT ON cell_volunteers, public_cells, access_log "
               f"TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE (reports) ON cell_volunteers TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE (volunteers, reports) ON public_cells TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE (last_at, requests, rows, west, south, east, north) "
               f"ON access_log TO {APP_ROLE}")


def _backfill():
    """Count the verified reports already stored, by volunteer and public cell."""
    import h3

    bind = op.get_bind()
    per_volunteer: dict[tuple[int, int, object], int] = {}
    rows = bind.execute(sa.text(
        "SELECT volunteer_id, ST_X(location), ST_Y(location) FROM reports "
        "WHERE verified AND h3_cell IS NOT NULL"))
    for volunteer, lon, lat in rows:
        for res in PUBLIC_RESOLUTIONS:
            key = (res, h3.str_to_int(h3.latlng_to_cell(lat, lon, res)), volunteer)
            per_volunteer[key] = per_volunteer.get(key, 0) + 1
    if not per_volunteer:
        return
    bind.execute(sa.text(
        "INSERT INTO cell_volunteers (res, cell, volunteer_id, reports) "
        "VALUES (:res, :cell, :volunteer, :reports)"),
        [{"res": res, "cell": cell, "volunteer": volunteer, "reports": n}
         for (res, cell, volunteer), n in per_volunteer.items()])
    bind.execute(sa.text(
        "INSERT INTO public_cells (res, cell, volunteers, reports) "
        "SELECT res, cell, count(*), sum(reports) FROM cell_volunteers GROUP BY res, cell"))


def downgrade():
    op.drop_table("access_log")
    op.drop_table("public_cells")
    op.drop_table("cell_volunteers")
