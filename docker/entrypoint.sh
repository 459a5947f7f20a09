#!/bin/sh
# `serve` (the default): bring the schema up to date, then run gunicorn as PID 1 so that it
# receives the container's stop signal and shuts its workers down gracefully.
# Anything else runs as given, e.g. `docker compose run --rm app fieldapp users create ...`.
set -eu

if [ "${1:-serve}" = "serve" ]; then
    fieldapp db upgrade  # as the schema owner (FIELDAPP_OWNER_DATABASE_URL)
    # The server runs as fieldapp_server alone, without the owner's password.
    unset FIELDAPP_OWNER_DATABASE_URL
    exec gunicorn --config /app/gunicorn.conf.py 'fieldapp:create_app()'
fi
exec "$@"
