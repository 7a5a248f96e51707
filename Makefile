# Tinker: the two commands a newcomer types are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000
export FLASK_APP := plugin
# The suite runs on every core (tests are independent: each worker has its own databases and servers).
PYTEST_ARGS ?= -n auto

.PHONY: run test test-sqlite test-postgresql test-redis install postgres-binaries redis-binaries clean translations screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: install, migrate the local SQLite database, load demo data, serve with the development LMS.
# The development LMS launches into the tool at its base URL: follow HOST and PORT unless one is given.
run: export TINKER_BASE_URL ?= http://$(HOST):$(PORT)
run: $(STAMP)
	$(BIN)/flask db upgrade
	$(BIN)/flask demo seed
	@echo "Tinker on http://$(HOST):$(PORT)/  development LMS: http://$(HOST):$(PORT)/dev/lms"
	$(BIN)/flask run --host $(HOST) --port $(PORT) --with-threads

## make test: the whole suite on SQLite, then on PostgreSQL (a throwaway server when none is configured).
test: $(STAMP) postgres-binaries redis-binaries
	$(BIN)/python -m pytest -p no:cacheprovider --db sqlite $(PYTEST_ARGS)
	$(BIN)/python -m pytest -p no:cacheprovider --db postgresql $(PYTEST_ARGS)

test-sqlite: $(STAMP) redis-binaries
	$(BIN)/python -m pytest --db sqlite $(PYTEST_ARGS)

test-postgresql: $(STAMP) postgres-binaries redis-binaries
	$(BIN)/python -m pytest --db postgresql $(PYTEST_ARGS)

## make test-redis: the suite on SQLite with the app's shared cache in a throwaway redis-server (TINKER_REDIS_URL).
test-redis: $(STAMP) redis-binaries
	$(BIN)/python -m pytest -p no:cacheprovider --db sqlite --redis $(PYTEST_ARGS)

# Debian's redis-server for the shared-cache tests (a throwaway server per test session), installed when missing.
redis-binaries:
	@if [ -z "$$TINKER_TEST_REDIS_URL" ] && ! command -v redis-server >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else \
	    echo "redis-server missing: apt-get install redis-server, or set TINKER_TEST_REDIS_URL"; exit 1; \
	  fi; \
	fi

# Debian's server binaries for the throwaway test cluster, installed when missing and we may.
postgres-binaries:
	@if [ -z "$$TINKER_TEST_POSTGRES_URL" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL server binaries missing: apt-get install postgresql, or set TINKER_TEST_POSTGRES_URL"; exit 1; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) instance *.egg-info

## make translations: collect marked text into the template catalog, merge it into each language, compile.
# The compiled .mo files are committed (the app reads them); a test fails when one is older than its .po.
I18N := plugin/translations
translations: $(STAMP)
	$(BIN)/pybabel extract -F $(I18N)/babel.cfg -k lazy_gettext -k _l -k N_ --no-location --sort-output \
		--project Tinker --copyright-holder "Tinker contributors" -o $(I18N)/messages.pot plugin templates
	$(BIN)/pybabel update -i $(I18N)/messages.pot -d $(I18N) --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d $(I18N) --statistics

## make screenshots: the pictures in docs/images (docs/screenshots.md, README), taken by the e2e suite in chromium.
screenshots: $(STAMP)
	TINKER_SCREENSHOTS_DIR=docs/images $(BIN)/python -m pytest -p no:cacheprovider --db sqlite -q tests/e2e/test_screenshots.py
