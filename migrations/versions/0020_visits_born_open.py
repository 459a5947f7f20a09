"""A visit begins open: one inserted with its check-out already set is refused.

0018 keeps a closed visit's check-out, but the app's role may INSERT visits (a check-in
makes one), and a row inserted closed was hours that no check-in began, beyond 0018's reach.
The app only ever inserts an open visit (tasks.service.check_in) and closes it later.

Revision ID: 0020_visits_born_open
Revises: 0019_accepted_claims
Create Date: 2026-12-02
"""
from alembic import op

revision = "0020_visits_born_open"
down_revision = "0019_accepted_claims"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
        CREATE FUNCTION claim_visits_born_open() RETURNS trigger AS $$
        BEGIN
            IF NEW.checked_out_at IS NOT NULL OR NEW.on_site_s IS NOT NULL THEN
                RAISE EXCEPTION 'claim_visits: a visit begins open (a check-in), never closed'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
    """)
    op.execute("""
        CREATE TRIGGER claim_visits_born_open BEFORE INSERT ON claim_visits
        FOR EACH ROW EXECUTE FUNCTION claim_visits_born_open()
    """)


def downgrade():
    op.execute("DROP TRIGGER claim_visits_born_open ON claim_visits")
    op.execute("DROP FUNCTION claim_visits_born_open()")
