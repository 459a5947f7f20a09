"""Accounts: token expiry and scope, disabled accounts, sign-in throttling.

Revision ID: 0008_accounts_security
Revises: 0007_jobs
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_accounts_security"
down_revision = "0007_jobs"
branch_labels = None
depends_on = None

APP_ROLE = "fieldapp_app"
# Tokens issued before expiry existed get the default lifetime counted from their issue,
# so a token leaked long ago stops working with this upgrade.
BACKFILL_TTL = "30 days"


def upgrade():
    op.add_column("users", sa.Column("disabled_at", sa.DateTime(timezone=True)))
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True)))
    op.add_column("api_tokens", sa.Column("scope", sa.String(8), nullable=False,
                                          server_default="full"))
    op.execute(f"UPDATE api_tokens SET expires_at = created_at + interval '{BACKFILL_TTL}'")
    op.alter_column("api_tokens", "expires_at", nullable=False)
    op.create_check_constraint("api_tokens_scope_known", "api_tokens",
                               "scope IN ('full', 'read')")
    op.create_table(
        "signin_failures",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_key", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
    )
    op.create_index("signin_failures_account_at", "signin_failures", ["account_key", "at"])
    op.create_index("signin_failures_address_at", "signin_failures", ["address", "at"])

    # Exactly what sign-in, tokens and account admin need; the other columns of users and
    # api_tokens (email, pseudonym, token_hash, created_at, ...) never change once written.
    op.execute(f"GRANT SELECT, INSERT ON users, api_tokens TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE (password_hash, role, display_name, disabled_at) ON users "
               f"TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE (revoked_at) ON api_tokens TO {APP_ROLE}")
    # Failures are pruned once they leave the window, and cleared by a successful sign-in.
    op.execute(f"GRANT SELECT, INSERT, DELETE ON signin_failures TO {APP_ROLE}")


def downgrade():
    op.drop_table("signin_failures")
    op.drop_constraint("api_tokens_scope_known", "api_tokens")
    op.drop_column("api_tokens", "scope")
    op.drop_column("api_tokens", "expires_at")
    op.drop_column("users", "disabled_at")
