"""Shared fixtures: a real PostGIS database made fresh for the run, the app, users, photos.

Nothing here skips: if PostGIS or the shared photos cannot be reached, tests fail.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from fieldapp import create_app
from fieldapp.config import Config
from fieldapp.extensions import db
from tests.helpers import (
    DATABASE_ENV,
    TEMPLATE_DB,
    TEST_DB_NAME,
    TEST_DB_PREFIX,
    TEST_DB_URL,
    TEST_OWNER_DB_URL,
    serving,
)


def _admin_connection(url: str):
    dsn = psycopg2.extensions.parse_dsn(url)
    dsn.pop("dbname")
    try:
        conn = psycopg2.connect(dbname="postgres", **dsn)
    except psycopg2.OperationalError as exc:
        # The roles' passwords are set from the file scripts/postgis.sh keeps; another
        # install on this server may have set others since.
        raise RuntimeError(f"cannot connect as the schema owner ({str(exc).strip()}); run "
                           "scripts/postgis.sh, which sets the roles' passwords from "
                           f"{DATABASE_ENV}") from exc
    conn.autocommit = True
    return conn


def _drop(cur, name: str) -> None:
    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _recreate_database(url: str) -> None:
    """A fresh database from the PostGIS template; leftovers of dead runs are dropped."""
    name = psycopg2.extensions.parse_dsn(url)["dbname"]
    conn = _admin_connection(url)
    with conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                    (TEST_DB_PREFIX + "%",))
        for (stale,) in cur.fetchall():
            # fieldapp_test_<pid>, or fieldapp_test_<pid>_<what> for a test's extra database
            pid = stale[len(TEST_DB_PREFIX):].split("_")[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                _drop(cur, stale)
        _drop(cur, name)
        cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(TEMPLATE_DB)))
    conn.close()


def _drop_database(url: str) -> None:
    conn = _admin_connection(url)
    with conn.cursor() as cur:
        _drop(cur, psycopg2.extensions.parse_dsn(url)["dbname"])
    conn.close()


@contextmanager
def app_on_own_database(what: str, data_dir: Path, migrated: bool = True):
    """The app on a migrated database of its own (fieldapp_test_<pid>_<what>), for a test
    that must see everything in its database, or that writes what others must not see;
    with migrated=False, an empty one (PostGIS and nothing else), as a restore needs."""
    from urllib.parse import urlsplit, urlunsplit

    from flask_migrate import upgrade

    from fieldapp.config import sqlalchemy_url

    def on(url: str) -> str:
        return urlunsplit(urlsplit(url)._replace(path=f"/{TEST_DB_NAME}_{what}"))

    owner_url, app_url = on(TEST_OWNER_DB_URL), on(TEST_DB_URL)
    _recreate_database(owner_url)
    application = create_app(Config(SQLALCHEMY_DATABASE_URI=sqlalchemy_url(app_url),
                                    FIELDAPP_OWNER_DATABASE_URI=sqlalchemy_url(owner_url),
                                    FIELDAPP_DATA_DIR=data_dir, TESTING=True))
    try:
        if migrated:
            with application.app_context():
                upgrade()
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
        _drop_database(owner_url)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fieldapp-data")


@pytest.fixture(scope="session")
def app(data_dir):
    from flask_migrate import upgrade

    _recreate_database(TEST_OWNER_DB_URL)
    from fieldapp.config import sqlalchemy_url

    # Migrated as the schema owner, served as the app's login role (a member of fieldapp_app).
    application = create_app(Config(
        SQLALCHEMY_DATABASE_URI=sqlalchemy_url(TEST_DB_URL),
        FIELDAPP_OWNER_DATABASE_URI=sqlalchemy_url(TEST_OWNER_DB_URL),
        FIELDAPP_DATA_DIR=data_dir, TESTING=True,
    ))
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    _drop_database(TEST_OWNER_DB_URL)


@pytest.fixture()
def owner_connection(app):
    """A psycopg2 connection to the test database as the schema owner: an insider with more
    than the app may do (the app itself never connects so)."""
    conn = psycopg2.connect(TEST_OWNER_DB_URL)
    yield conn
    conn.close()


@pytest.fixture()
def app_connection(app):
    """A psycopg2 connection to the test database as the app's login role."""
    conn = psycopg2.connect(TEST_DB_URL)
    yield conn
    conn.close()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def server(app):
    """The app behind a real socket (tests.helpers.serving), for a browser; its base URL."""
    with serving(app) as url:
        yield url


@pytest.fixture()
def app_ctx(app):
    with app.app_context():
        yield


@pytest.fixture()
def make_user(app):
    """make_user(role) -> (user_id, email, token) for a new user of that role."""
    from fieldapp.accounts import service

    def _make(role="volunteer", password=None):
        with app.app_context():
            email = f"{role}-{uuid.uuid4().hex[:10]}@example.org"
            user = service.create_user(email, password or service.generate_password(), role)
            return user.id, email, service.issue_token(user)

    return _make


@pytest.fixture()
def volunteer(make_user):
    return make_user("volunteer")


@pytest.fixture()
def coordinator(make_user):
    return make_user("coordinator")


@pytest.fixture(scope="session")
def tsa():
    """A real RFC 3161 authority on 127.0.0.1 (openssl ts -reply) with its own test root CA:
    .url to post requests to, .ca_file the root that verifies its tokens (tests/tsa.py)."""
    from tests.tsa import LocalTsa

    with LocalTsa() as authority:
        yield authority
