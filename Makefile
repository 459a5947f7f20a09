# fieldapp — the two promises of the README:
#   make run    start PostGIS, migrate, load demo data, serve on http://127.0.0.1:5000
#   make test   run the whole test suite against a real PostGIS server
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The database URLs, with the passwords scripts/postgis.sh generated for this machine: the
# schema owner's (FIELDAPP_OWNER_DATABASE_URL, migrations only) and the server's login role,
# a member of fieldapp_app (DATABASE_URL). Read when a recipe runs: postgis.sh writes them.
export FIELDAPP_DATABASE_ENV ?= /etc/fieldapp/database.env
AS_OWNER = set -a && . $(FIELDAPP_DATABASE_ENV) && set +a &&
# Everything but the migrations runs without the owner's URL in its environment.
AS_APP = $(AS_OWNER) unset FIELDAPP_OWNER_DATABASE_URL &&
export FIELDAPP_DATA_DIR ?= $(CURDIR)/var

APP_PACKAGES := fonts-wqy-zenhei nginx postgresql-client-15
TEST_PACKAGES := poppler-utils openssl coreutils gdal-bin chromium chromium-driver

.PHONY: run test install packages test-packages map-assets postgis migrate demo serve lint bench-ingest

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed packages map-assets

packages:
	bash scripts/packages.sh $(APP_PACKAGES)

map-assets:
	bash scripts/build-map.sh

test-packages:
	bash scripts/packages.sh $(APP_PACKAGES) $(TEST_PACKAGES)

postgis:
	bash scripts/postgis.sh

migrate: install postgis
	$(AS_OWNER) $(BIN)/fieldapp db upgrade

demo: migrate
	$(AS_APP) $(BIN)/fieldapp demo

# An install without demo data starts with one admin; the password is asked twice, hidden.
.PHONY: admin
admin:
	@test -n "$(EMAIL)" || { echo 'usage: make admin EMAIL=you@example.org' >&2; exit 2; }
	$(MAKE) migrate
	$(AS_APP) $(BIN)/fieldapp users create --email '$(EMAIL)' --role admin

serve:
	$(AS_APP) $(BIN)/fieldapp serve

# A backup is made as the schema owner (pg_dump reads every table): make backup DEST=/backups/2026-12-02
.PHONY: backup
backup:
	@test -n "$(DEST)" || { echo 'usage: make backup DEST=/new/dir [EARLIER=/an/earlier/backup]' >&2; exit 2; }
	$(AS_OWNER) $(BIN)/fieldapp backup make '$(DEST)' $(if $(EARLIER),--earlier '$(EARLIER)')

run: demo serve

# The demo's certificates need the NGO's four settings; stand-ins, plainly marked, unless
# the environment already names the organisation.
run: export FIELDAPP_ORG_NAME ?= 演示环保组织 Demo NGO
run: export FIELDAPP_ORG_PERSON_IN_CHARGE ?= 演示负责人 Demo lead
run: export FIELDAPP_ORG_HANDLER ?= 演示经办人 Demo handler
run: export FIELDAPP_ORG_CONTACT ?= demo-ngo@example.org

test: install test-packages postgis
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check fieldapp tests bench

bench-ingest: migrate
	$(BIN)/python bench/ingest.py
