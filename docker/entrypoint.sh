#!/bin/sh
# `serve` (the default): bring the schema up to date, then run gunicorn as PID 1 so that it
# receives the container's stop signal and shuts its workers down gracefully.
# Anything else runs as given, e.g. `docker compose run --rm app fieldapp users create ...`.
set -eu

if [ "${1:-serve}" = "serve" ]; then
    fieldapp db upgrade
    exec gunicorn --config /app/gunicorn.conf.py 'fieldapp:create_app()'
fi
exec "$@"
