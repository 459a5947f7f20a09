"""A closed visit keeps its check-out: once a visit has its checked_out_at, neither it nor
on_site_s changes again.

The app's role may UPDATE both columns (0012), since it closes a visit, but that grant also
let it rewrite a visit closed long ago: eight more hours on site in a volunteer's service
record and on every certificate issued from it afterwards. The app only ever closes an open
visit (tasks.service._close_visit), so the database refuses the rest, even to the owner
unless it switches the trigger off.

Revision ID: 0018_closed_visits
Revises: 0017_public_snapshots
Create Date: 2026-12-02
"""
from alembic import op

revision = "0018_closed_visits"
down_revision = "0017_public_snapshots"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
        CREATE FUNCTION claim_visits_keep_check_out() RETURNS trigger AS $$
        BEGIN
            IF OLD.checked_out_at IS NOT NULL THEN
                RAISE EXCEPTION 'claim_visits: a closed visit keeps its check-out: % refused',
                    TG_OP USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
    """)
    op.execute("""
        CREATE TRIGGER claim_visits_keep_check_out BEFORE UPDATE ON claim_visits
        FOR EACH ROW EXECUTE FUNCTION claim_visits_keep_check_out()
    """)


def downgrade():
    op.execute("DROP TRIGGER claim_visits_keep_check_out ON claim_visits")
    op.execute("DROP FUNCTION claim_visits_keep_check_out()")
