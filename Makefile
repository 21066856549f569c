# The two commands: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-audit.txt requirements-dev.txt | sha1sum | cut -c1-12)
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run audit chromium node test test-sqlite test-postgres test-banner lint typecheck system-deps banner bench bench-faults clean

# One environment for running and testing: the runtime (requirements.txt), the audit's browser
# driver (requirements-audit.txt) and the test, lint and benchmark tools (requirements-dev.txt,
# which includes both). pyproject.toml declares the same for `pip install .` / `.[audit]`.
$(STAMP): requirements.txt requirements-audit.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: install
	COOKIEGATE_ENV=development $(BIN)/flask --app wsgi db upgrade
	COOKIEGATE_ENV=development $(BIN)/flask --app wsgi cookiegate demo --url http://$(HOST):$(PORT)
	@echo
	@echo "  cookiegate is running on SQLite (instance/cookiegate.db)"
	@echo "  Service:    http://$(HOST):$(PORT)/healthz"
	@echo "  Demo page:  http://$(HOST):$(PORT)/demo/"
	@echo "  Banner:     http://$(HOST):$(PORT)/banner/v1/cookiegate.js"
	@echo "  Config:     http://$(HOST):$(PORT)/api/v1/sites/demo/config?lang=da"
	@echo "  API spec:   http://$(HOST):$(PORT)/api/v1/openapi.json"
	@echo "  Dashboard:  http://$(HOST):$(PORT)/dashboard/demo/"
	@echo "  Console:    http://$(HOST):$(PORT)/admin/"
	@echo "  Log in at   http://$(HOST):$(PORT)/login as marketing@fjordkaffe.example, password fjordkaffe-demo (demo marketer)"
	@echo "          or as admin@fjordkaffe.example, password fjordkaffe-admin (demo administrator)"
	@echo "  Stop with Ctrl-C."
	@echo
	COOKIEGATE_ENV=development WEB_CONCURRENCY=2 $(BIN)/gunicorn -c gunicorn.conf.py -b $(HOST):$(PORT) wsgi:app

# The pre-consent audit of a live page (docs/audit.md), e.g. against `make run`'s demo page:
#   make audit URL=http://127.0.0.1:8000/demo/ SITE=demo
# Reports go to audit.json and audit.html; exit status 1 when something ran before consent.
URL ?= http://$(HOST):$(PORT)/demo/
SITE ?=
PAGES ?= 0
audit: install chromium
	COOKIEGATE_ENV=development $(BIN)/flask --app wsgi cookiegate audit $(URL) $(if $(SITE),--site $(SITE)) --pages $(PAGES) --json audit.json --html audit.html

# Debian's Chromium, for the audit and the browser tests; installed when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# Node and npm (Debian's npm brings node): the banner's build and its unit tests.
node:
	@command -v npm >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null)

# What the test suite drives besides Python: Chromium, and axe-core from npm (into the
# ignored build/npm) for the accessibility checks; each installed when missing.
AXE_VERSION := 4.14.1
system-deps: chromium node
	@test -f build/npm/node_modules/axe-core/axe.min.js || npm install --silent --no-audit --no-fund --no-save --prefix build/npm axe-core@$(AXE_VERSION) >/dev/null
	@$(MAKE) --no-print-directory node_modules/.package-lock.json

# The banner's build tools (esbuild, terser), exactly as package-lock.json pins them, into the ignored node_modules/.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --silent --no-audit --no-fund >/dev/null

# Rebuilds static/banner/{cookiegate,settings,consent-default}.js from static/banner/src/; commit the result.
# `make run` needs none of this: the built files are in git (tests/test_banner_build.py checks they match the source).
banner: node_modules/.package-lock.json
	node static/banner/build.mjs

# Every pass runs even when one before it failed (tests/all_passes.py); the closing lines give
# each pass's counts and time, and the exit status is non-zero when any failed. With CI=true a
# missing PostgreSQL fails the run; elsewhere its pass is skipped.
test: install system-deps
	@MAKE="$(MAKE)" $(BIN)/python tests/all_passes.py

# The test suite runs in TEST_WORKERS processes (pytest-xdist), each with its own database, live
# server and browser (tests/conftest.py). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 4
PYTEST := $(BIN)/pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS))

test-sqlite: install
	@echo "== test suite on SQLite =="
	env -u COOKIEGATE_TEST_DATABASE_URL $(PYTEST)

test-postgres: install
	@echo "== test suite on PostgreSQL =="
	COOKIEGATE_TEST_DATABASE_URL=$${COOKIEGATE_TEST_DATABASE_URL:-$(PG_URL)} $(PYTEST)

# ruff and mypy, as pyproject.toml sets them (mypy: strict on the modules listed there).
lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

# The banner's modules (static/banner/src/) under node's own test runner (tests/banner/).
test-banner: node
	node --test tests/banner/

# The benchmarks print ratios against baselines measured in the same run (see README).
bench: install
	$(BIN)/python benchmarks/api_throughput.py
	$(BIN)/python benchmarks/enrich.py
	$(BIN)/python benchmarks/banner_size.py
	$(BIN)/python benchmarks/banner_main_thread.py
	$(BIN)/python benchmarks/stats.py
	$(BIN)/python benchmarks/proof.py
	$(BIN)/python benchmarks/audit_time.py
	$(BIN)/python benchmarks/login_time.py

# A 10 s PostgreSQL stop under 16 clients, on a private throwaway cluster (needs initdb; about 1.5 min).
bench-faults: install
	$(BIN)/python benchmarks/faults.py

clean:
	rm -rf $(VENV) .pytest_cache
