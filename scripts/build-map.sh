#!/usr/bin/env bash
# Build the map page's browser assets: the pinned OpenLayers bundle from the npm registry,
# copied into fieldapp/mapview/static/vendor/ (not committed). Safe to re-run: it does
# nothing while the vendor files match package-lock.json.
#
#   scripts/build-map.sh
set -euo pipefail
cd "$(dirname "$0")/.."

vendor=fieldapp/mapview/static/vendor
stamp=$vendor/.stamp
lock=package-lock.json
[ -f "$lock" ] || lock=package.json
want=$(sha256sum "$lock" | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
        && [ -s "$vendor/ol.js" ] && [ -s "$vendor/ol.css" ]; then
    exit 0
fi

if ! command -v npm >/dev/null; then
    # A fresh Debian machine: Debian's own Node.js is enough to fetch a prebuilt bundle.
    bash scripts/packages.sh nodejs npm
fi

printf '[map] installing the map library from %s\n' "$lock"
if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi

mkdir -p "$vendor"
cp node_modules/ol/dist/ol.js node_modules/ol/ol.css "$vendor/"
# Written last, so an interrupted build is redone next time.
echo "$want" > "$stamp"
printf '[map] %s ready\n' "$vendor"
