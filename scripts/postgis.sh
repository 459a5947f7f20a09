#!/usr/bin/env bash
# Install (if missing) and start a local PostgreSQL 15 + PostGIS 3 server, run as the
# `postgres` user, and make sure fieldapp's two roles and its databases exist.
#
#   scripts/postgis.sh     # roles `fieldapp` (owner) and `fieldapp_server` (in fieldapp_app);
#                          # databases `fieldapp` and `fieldapp_template`
#
# The owner runs the migrations; the server logs in as `fieldapp_server`, a member of the
# NOLOGIN role `fieldapp_app` to which the migrations grant exactly what the app needs.
# Both passwords are generated on the first run and kept, inside the two URLs, in
# $FIELDAPP_DATABASE_ENV (default /etc/fieldapp/database.env, mode 600). Roles belong to the
# PostgreSQL server, not to one checkout, so every checkout on this machine shares that
# file; and every run sets the roles' passwords from it, so roles made earlier with other
# passwords are brought in line instead of locking anyone out.
#
# Idempotent: every step checks before it acts. Needs root (apt-get, runuser).
set -euo pipefail

PG_VERSION=15
PG_CLUSTER=main
PG_PORT="${FIELDAPP_PG_PORT:-5432}"
DB_OWNER="${FIELDAPP_DB_OWNER:-fieldapp}"
DB_APP_USER="${FIELDAPP_DB_APP_USER:-fieldapp_server}"
APP_ROLE=fieldapp_app
DB_NAME="${FIELDAPP_DB_NAME:-fieldapp}"
DATABASE_ENV="${FIELDAPP_DATABASE_ENV:-/etc/fieldapp/database.env}"

log() { printf '[postgis] %s\n' "$*"; }

as_postgres() { runuser -u postgres -- "$@"; }

psql_admin() { as_postgres env PGOPTIONS="-c client_min_messages=warning" psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }

install_packages() {
    if [ -f "/usr/share/postgresql/$PG_VERSION/extension/postgis.control" ] \
        && [ -x "/usr/lib/postgresql/$PG_VERSION/bin/postgres" ]; then
        return
    fi
    log "installing postgresql-$PG_VERSION-postgis-3 from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "postgresql-$PG_VERSION" "postgresql-$PG_VERSION-postgis-3" \
        "postgresql-client-$PG_VERSION" >/dev/null
}

start_cluster() {
    if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "$PG_VERSION/$PG_CLUSTER"; then
        log "creating cluster $PG_VERSION/$PG_CLUSTER"
        pg_createcluster "$PG_VERSION" "$PG_CLUSTER" --port "$PG_PORT" >/dev/null
    fi
    if ! pg_lsclusters -h | awk -v c="$PG_CLUSTER" '$2==c {print $4}' | grep -qx online; then
        log "starting cluster $PG_VERSION/$PG_CLUSTER (as postgres)"
        # pg_ctlcluster drops to the cluster owner (postgres); the server never runs as root.
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
    fi
    for _ in $(seq 1 30); do
        as_postgres pg_isready -q -p "$PG_PORT" && return
        sleep 1
    done
    log "server did not become ready"; exit 1
}

new_password() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

password_in_env() {  # a variable of $DATABASE_ENV -> the password inside its URL
    [ -f "$DATABASE_ENV" ] || return 0
    sed -n "s|^$1=postgresql://[^:]*:\([^@]*\)@.*|\1|p" "$DATABASE_ENV"
}

ensure_database_env() {
    OWNER_PASSWORD="$(password_in_env FIELDAPP_OWNER_DATABASE_URL)"
    APP_PASSWORD="$(password_in_env DATABASE_URL)"
    if [ -z "$OWNER_PASSWORD" ] || [ -z "$APP_PASSWORD" ]; then
        log "generating the roles' passwords in $DATABASE_ENV"
        OWNER_PASSWORD="$(new_password)"
        APP_PASSWORD="$(new_password)"
    fi
    # Written afresh on every run (a changed port or database name is followed), atomically
    # and never readable by others, since readers may be running at the same moment.
    install -d -m 700 "$(dirname "$DATABASE_ENV")"
    local tmp
    tmp="$(mktemp "$DATABASE_ENV.XXXXXX")"
    {
        echo "# fieldapp's database roles on this server, written by scripts/postgis.sh. Secret."
        echo "# The owner runs 'fieldapp db upgrade'; the server connects as a member of $APP_ROLE."
        echo "FIELDAPP_OWNER_DATABASE_URL=postgresql://$DB_OWNER:$OWNER_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
        echo "DATABASE_URL=postgresql://$DB_APP_USER:$APP_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
    } >"$tmp"
    mv -f "$tmp" "$DATABASE_ENV"
}

ensure_roles() {
    # Passwords travel on standard input, never on a command line that `ps` would show.
    psql_admin <<SQL
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_OWNER') THEN
        CREATE ROLE $DB_OWNER LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE') THEN
        CREATE ROLE $APP_ROLE NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_APP_USER') THEN
        CREATE ROLE $DB_APP_USER LOGIN IN ROLE $APP_ROLE;
    END IF;
END \$\$;
-- The owner's migrations create roles (0005: $APP_ROLE), and tests create databases.
ALTER ROLE $DB_OWNER LOGIN CREATEDB CREATEROLE PASSWORD '$OWNER_PASSWORD';
-- Tests and benchmarks drop their databases WITH (FORCE), ending the server role's sessions.
GRANT pg_signal_backend TO $DB_OWNER;
-- The server's role may only log in and act as $APP_ROLE: anything it was given is taken back.
ALTER ROLE $DB_APP_USER LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    NOBYPASSRLS PASSWORD '$APP_PASSWORD';
GRANT $APP_ROLE TO $DB_APP_USER;
SQL
}

ensure_database() {  # name, is_template
    local name="$1" template="$2"
    if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$name'")" != "1" ]; then
        log "creating database $name"
        psql_admin -c "CREATE DATABASE $name OWNER $DB_OWNER"
    fi
    # PostGIS is not a trusted extension: the superuser installs it once per database.
    psql_admin -d "$name" -c "CREATE EXTENSION IF NOT EXISTS postgis"
    if [ "$template" = "template" ]; then
        psql_admin -c "ALTER DATABASE $name IS_TEMPLATE true"
    fi
}

install_packages
start_cluster
ensure_database_env
ensure_roles
ensure_database "$DB_NAME" plain
# Tests create throw-away databases from this template, so they need no superuser.
ensure_database "${DB_NAME}_template" template
log "ready: owner $DB_OWNER, server $DB_APP_USER (in $APP_ROLE); both URLs in $DATABASE_ENV"
