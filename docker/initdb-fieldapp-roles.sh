#!/bin/sh
# fieldapp's two database roles, made once, when the postgis image initialises an empty data
# directory (mounted into /docker-entrypoint-initdb.d after the image's own PostGIS script):
#   fieldapp         the schema owner: owns the database, runs `fieldapp db upgrade`
#   fieldapp_server  the server's login role, a mere member of fieldapp_app, to which the
#                    migrations grant exactly what the app needs
# The same roles scripts/postgis.sh makes on a Debian machine. The passwords come from the
# environment of the db service; psql quotes them (:'var'), so any character is safe.
set -e
: "${FIELDAPP_DB_OWNER_PASSWORD:?set FIELDAPP_DB_OWNER_PASSWORD}"
: "${FIELDAPP_DB_APP_PASSWORD:?set FIELDAPP_DB_APP_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner_password="$FIELDAPP_DB_OWNER_PASSWORD" \
    -v app_password="$FIELDAPP_DB_APP_PASSWORD" <<'SQL'
-- Migrations create roles (0005 makes fieldapp_app when it is missing).
CREATE ROLE fieldapp LOGIN CREATEROLE PASSWORD :'owner_password';
CREATE ROLE fieldapp_app NOLOGIN;
CREATE ROLE fieldapp_server LOGIN IN ROLE fieldapp_app PASSWORD :'app_password';
-- The database's owner also owns its public schema (pg_database_owner), where the
-- migrations create every table.
ALTER DATABASE :"DBNAME" OWNER TO fieldapp;
SQL
