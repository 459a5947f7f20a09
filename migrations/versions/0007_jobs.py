"""One background job mechanism; dossier freezes as jobs.

The job queue is procrastinate's: its schema (tables, triggers that NOTIFY workers, the
functions workers call) is the SQL shipped in the installed package, applied here so the
schema only ever comes from migrations. pyproject.toml pins procrastinate exactly, so this
schema and the code that calls it agree.

A freeze in progress lives in dossier_freezes (the dossiers table stays append-only: its
row is inserted only once the dossier is frozen, with the `exported` custody event).

Revision ID: 0007_jobs
Revises: 0006_anchors
Create Date: 2026-12-01
"""
from importlib import resources

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0007_jobs"
down_revision = "0006_anchors"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"
QUEUE_TABLES = ("procrastinate_jobs", "procrastinate_events", "procrastinate_periodic_defers",
                "procrastinate_workers")
# Only the progress of a freeze moves; what was asked, by whom and when, never does.
FREEZE_PROGRESS = ("status", "step", "done", "total", "error", "updated_at", "finished_at")


def _run_verbatim(statements: str) -> None:
    """Run SQL exactly as written, on the migration's own transaction.

    Through the driver's cursor without parameters: this SQL is full of "::type" casts and
    "%" (RAISE messages, format()), which SQLAlchemy's text() and psycopg2's parameter
    substitution would each misread.
    """
    with op.get_bind().connection.dbapi_connection.cursor() as cursor:
        cursor.execute(statements)


# procrastinate's sequences and functions, by their full names (a function's with its
# argument types), as format() wants them.
SEQUENCES = """SELECT c.oid::regclass::text FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind = 'S' AND c.relname LIKE 'procrastinate\\_%'
                 AND n.nspname = current_schema()"""
FUNCTIONS = """SELECT p.oid::regprocedure::text FROM pg_proc p
               JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE p.proname LIKE 'procrastinate\\_%' AND n.nspname = current_schema()"""


def _for_each(names_query: str, command: str) -> str:
    """A DO block running command (with %s for the name) for each name the query finds."""
    return f"""
        DO $$ DECLARE name text; BEGIN
            FOR name IN {names_query} LOOP
                EXECUTE format('{command}', name);
            END LOOP;
        END $$
    """


def upgrade():
    schema = (resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8")
    _run_verbatim(schema)

    op.create_table(
        "dossier_freezes",
        # The id the dossier will have once frozen, so its address never changes.
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", pg.UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False,
                  index=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("requested_by", pg.UUID(as_uuid=True), sa.ForeignKey("users.id"),
                  nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        # procrastinate's job row (its own record of attempts and outcome); no foreign key,
        # so the queue may prune its old jobs without touching this history.
        sa.Column("job_id", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('freezing', 'frozen', 'failed')",
                           name="dossier_freezes_status"),
    )
    # One freeze per case at a time: dossier numbers stay consecutive.
    op.create_index("dossier_freezes_one_per_case", "dossier_freezes", ["case_id"],
                    unique=True, postgresql_where=sa.text("status = 'freezing'"))

    for table in QUEUE_TABLES:
        # Workers claim, finish, retry and prune jobs, and (un)register themselves.
        op.execute(f"REVOKE ALL ON TABLE {table} FROM {APP_ROLE}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {table} TO {APP_ROLE}")
    _run_verbatim(_for_each(SEQUENCES, f"GRANT USAGE, SELECT ON SEQUENCE %s TO {APP_ROLE}"))
    _run_verbatim(_for_each(FUNCTIONS, f"GRANT EXECUTE ON FUNCTION %s TO {APP_ROLE}"))
    op.execute(f"REVOKE ALL ON TABLE dossier_freezes FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON TABLE dossier_freezes TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE ({', '.join(FREEZE_PROGRESS)}) ON TABLE dossier_freezes "
               f"TO {APP_ROLE}")


def downgrade():
    op.drop_table("dossier_freezes")
    for table in QUEUE_TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    _run_verbatim(_for_each(FUNCTIONS, "DROP FUNCTION %s"))
    for type_name in ("procrastinate_job_to_defer_v1", "procrastinate_job_event_type",
                      "procrastinate_job_status"):
        op.execute(f"DROP TYPE IF EXISTS {type_name}")
