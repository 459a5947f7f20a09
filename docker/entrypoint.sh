#!/bin/sh
# `serve` (the default): bring the schema up to date, then run `fieldapp serve` as PID 1: its
# supervisord receives the container's stop signal, stops nginx, the analysers, the job
# worker and gunicorn gracefully, and reaps orphans.
# Anything else runs as given, e.g. `docker compose run --rm app fieldapp users create ...`.
set -eu

if [ "${1:-serve}" = "serve" ]; then
    fieldapp db upgrade  # as the schema owner (FIELDAPP_OWNER_DATABASE_URL)
    # The server runs as fieldapp_server alone, without the owner's password.
    unset FIELDAPP_OWNER_DATABASE_URL
    exec fieldapp serve
fi
exec "$@"
