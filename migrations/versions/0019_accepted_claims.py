"""A claim is accepted only by an evaluation accepting it, and stays accepted.

Only accepted claims are service: their visits' hours enter the volunteer's record and every
certificate issued from it. The app's role may UPDATE a claim's status (0012), which it
moves along the claim's workflow, but that grant also let it write `accepted` on a claim no
one evaluated, or take it off one that was (tasks.rules.CLAIM_NEXT has no way out of
`accepted`). The evaluation is in the append-only claim_evaluations, so the database now
holds the status to it: checked at commit (the service writes the status before the
evaluation row), and refused even to the owner unless it switches the triggers off.

Revision ID: 0019_accepted_claims
Revises: 0018_closed_visits
Create Date: 2026-12-02
"""
from alembic import op

revision = "0019_accepted_claims"
down_revision = "0018_closed_visits"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
        CREATE FUNCTION claims_stay_accepted() RETURNS trigger AS $$
        BEGIN
            IF OLD.status = 'accepted' AND NEW.status IS DISTINCT FROM 'accepted' THEN
                RAISE EXCEPTION 'claims: accepted work stays accepted (% refused)', NEW.status
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
    """)
    op.execute("""
        CREATE TRIGGER claims_stay_accepted BEFORE UPDATE OF status ON claims
        FOR EACH ROW EXECUTE FUNCTION claims_stay_accepted()
    """)
    op.execute("""
        CREATE FUNCTION claims_accepted_by_evaluation() RETURNS trigger AS $$
        BEGIN
            IF NEW.status = 'accepted' AND NOT EXISTS (
                    SELECT 1 FROM claim_evaluations
                    WHERE claim_id = NEW.id AND decision = 'accepted') THEN
                RAISE EXCEPTION 'claims: claim % is accepted only by an evaluation accepting it',
                    NEW.id USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
    """)
    op.execute("""
        CREATE CONSTRAINT TRIGGER claims_accepted_by_evaluation
        AFTER INSERT OR UPDATE OF status ON claims DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION claims_accepted_by_evaluation()
    """)


def downgrade():
    op.execute("DROP TRIGGER claims_accepted_by_evaluation ON claims")
    op.execute("DROP FUNCTION claims_accepted_by_evaluation()")
    op.execute("DROP TRIGGER claims_stay_accepted ON claims")
    op.execute("DROP FUNCTION claims_stay_accepted()")
