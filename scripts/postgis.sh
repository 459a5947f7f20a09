#!/usr/bin/env bash
# Install (if missing) and start a local PostgreSQL 15 + PostGIS 3 server, run as the
# `postgres` user, and make sure the fieldapp role and databases exist.
#
#   scripts/postgis.sh          # role `fieldapp`, databases `fieldapp` and `fieldapp_template`
#
# Idempotent: every step checks before it acts. Needs root (apt-get, runuser) the first time.
set -euo pipefail

PG_VERSION=15
PG_CLUSTER=main
PG_PORT="${FIELDAPP_PG_PORT:-5432}"
DB_USER="${FIELDAPP_DB_USER:-fieldapp}"
DB_PASSWORD="${FIELDAPP_DB_PASSWORD:-fieldapp}"
DB_NAME="${FIELDAPP_DB_NAME:-fieldapp}"

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

ensure_role() {
    if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != "1" ]; then
        log "creating role $DB_USER"
        psql_admin -c "CREATE ROLE $DB_USER LOGIN CREATEDB CREATEROLE PASSWORD '$DB_PASSWORD'"
    fi
    # The schema owner creates the app's role (fieldapp_app) in its migrations.
    psql_admin -c "ALTER ROLE $DB_USER CREATEDB CREATEROLE"
}

ensure_database() {  # name, is_template
    local name="$1" template="$2"
    if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$name'")" != "1" ]; then
        log "creating database $name"
        psql_admin -c "CREATE DATABASE $name OWNER $DB_USER"
    fi
    # PostGIS is not a trusted extension: the superuser installs it once per database.
    psql_admin -d "$name" -c "CREATE EXTENSION IF NOT EXISTS postgis"
    if [ "$template" = "template" ]; then
        psql_admin -c "ALTER DATABASE $name IS_TEMPLATE true"
    fi
}

install_packages
start_cluster
ensure_role
ensure_database "$DB_NAME" plain
# Tests create throw-away databases from this template, so they need no superuser.
ensure_database "${DB_NAME}_template" template
log "ready: postgresql://$DB_USER:***@127.0.0.1:$PG_PORT/$DB_NAME"
