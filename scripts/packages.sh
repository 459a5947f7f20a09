#!/usr/bin/env bash
# Install the Debian packages given as arguments, only those not installed yet.
#
#   scripts/packages.sh fonts-wqy-zenhei poppler-utils
#
# The app needs fonts-wqy-zenhei (the CJK font embedded in catalog PDFs), nginx (the proxy
# `fieldapp serve` puts in front of gunicorn) and postgresql-client-15 (pg_dump and
# pg_restore, for `fieldapp backup`); the tests also use
# poppler-utils (pdftotext, pdftoppm), openssl and coreutils' sha256sum, as a court would.
set -euo pipefail

missing=()
for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

printf '[packages] installing %s from Debian\n' "${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
