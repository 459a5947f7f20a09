"""scripts/postgis.sh: the two roles and their generated passwords, on the real server.

Each run here uses role and database names of its own (the script takes them from the
environment) and a password file in a temporary folder, so the roles every other test and
checkout rely on are never touched; everything made is dropped at the end.
"""
from __future__ import annotations

import os
import stat
import subprocess

import psycopg2
import pytest
from dotenv import dotenv_values

from tests.helpers import PROJECT_ROOT, superuser_sql

SCRIPT = PROJECT_ROOT / "scripts" / "postgis.sh"


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    """postgis.sh's settings for names of this module alone: (env, names)."""
    tag = f"t{os.getpid()}"
    names = {"owner": f"fieldapp_{tag}_owner", "server": f"fieldapp_{tag}_server",
             "database": f"fieldapp_{tag}"}
    env_file = tmp_path_factory.mktemp("install") / "etc" / "database.env"
    env = {**os.environ, "FIELDAPP_DB_OWNER": names["owner"],
           "FIELDAPP_DB_APP_USER": names["server"], "FIELDAPP_DB_NAME": names["database"],
           "FIELDAPP_DATABASE_ENV": str(env_file)}
    yield env, names
    for database in (names["database"], f"{names['database']}_template"):
        if _exists("pg_database", "datname", database):  # a template cannot be dropped
            superuser_sql(f"ALTER DATABASE {database} IS_TEMPLATE false", "postgres")
        superuser_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", "postgres")
    for role in (names["server"], names["owner"]):
        superuser_sql(f"DROP ROLE IF EXISTS {role}", "postgres")


def _exists(catalog: str, column: str, name: str) -> bool:
    return superuser_sql(f"SELECT 1 FROM {catalog} WHERE {column} = '{name}'", "postgres") == "1"


def _run(env) -> str:
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def _urls(env) -> dict[str, str]:
    return dotenv_values(env["FIELDAPP_DATABASE_ENV"])


def _whoami(url: str) -> tuple:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("""
                SELECT current_user, rolsuper, rolcreatedb, rolcreaterole,
                       pg_has_role(current_user, 'fieldapp_app', 'MEMBER'),
                       (SELECT pg_get_userbyid(datdba) FROM pg_database
                         WHERE datname = current_database())
                FROM pg_roles WHERE rolname = current_user""")
            return cur.fetchone()
    finally:
        conn.close()


def test_first_run_makes_both_roles_with_generated_passwords(install):
    env, names = install
    _run(env)
    env_file = env["FIELDAPP_DATABASE_ENV"]
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(env_file)).st_mode) == 0o700
    urls = _urls(env)
    owner_password = psycopg2.extensions.parse_dsn(urls["FIELDAPP_OWNER_DATABASE_URL"])
    server_password = psycopg2.extensions.parse_dsn(urls["DATABASE_URL"])
    assert len(owner_password["password"]) == len(server_password["password"]) == 48
    assert owner_password["password"] != server_password["password"]
    # The owner owns the database; the server's role is a plain member of fieldapp_app.
    assert _whoami(urls["FIELDAPP_OWNER_DATABASE_URL"]) == (
        names["owner"], False, True, True, False, names["owner"])
    assert _whoami(urls["DATABASE_URL"]) == (
        names["server"], False, False, False, True, names["owner"])


def test_reruns_keep_the_passwords_and_bring_changed_roles_in_line(install):
    env, names = install
    _run(env)
    first = _urls(env)
    _run(env)
    assert _urls(env) == first
    # Roles that another install gave other passwords (the file is the truth on this machine).
    superuser_sql(f"ALTER ROLE {names['server']} PASSWORD 'elsewhere'", "postgres")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        _whoami(first["DATABASE_URL"])
    _run(env)
    assert _urls(env) == first
    assert _whoami(first["DATABASE_URL"])[0] == names["server"]
    # A new file where the roles already exist (a fresh clone): new passwords, which work.
    os.remove(env["FIELDAPP_DATABASE_ENV"])
    _run(env)
    second = _urls(env)
    assert second["DATABASE_URL"] != first["DATABASE_URL"]
    assert _whoami(second["FIELDAPP_OWNER_DATABASE_URL"])[0] == names["owner"]
    assert _whoami(second["DATABASE_URL"])[0] == names["server"]
