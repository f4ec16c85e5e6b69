# `make run`: install, migrate, create the local user and serve on 127.0.0.1:8765. `make test`: the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8765
# The local user: `make run` creates it; the server's local no-auth mode acts as it.
OPENMEMORY_USER ?= $(or $(USER),$(shell id -un),local)
CLIENTS := mcp_bridge/tests/clients

.PHONY: install run serve test test-fast prod-check check worker beat

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

# The third-party MCP clients the tests drive (pinned in package-lock.json); skipped where there is no npm.
$(CLIENTS)/node_modules/.installed: $(CLIENTS)/package-lock.json
	@if command -v npm >/dev/null; then \
	  cd $(CLIENTS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the tests that drive Node.js MCP clients will be skipped (CI runs them)."; fi

run: install
	OPENMEMORY_CREATE_SECRET_KEY=true $(PY) manage.py migrate --noinput
	$(PY) manage.py setup_local $(OPENMEMORY_USER) --base-url http://$(HOST):$(PORT)
	$(MAKE) --no-print-directory serve

serve:
	OPENMEMORY_USER=$(OPENMEMORY_USER) $(VENV)/bin/uvicorn openmemory.asgi:application --host $(HOST) --port $(PORT) --no-access-log --lifespan off

test: install $(CLIENTS)/node_modules/.installed
	SECRET_KEY=$${SECRET_KEY:-tests-only-not-secret} $(PY) -m pytest

# The quick loop for a small change: everything but the tests that start processes (live servers, workers, browsers,
# Node.js clients). `make test` still runs it all, and CI runs `make test`.
test-fast: install
	SECRET_KEY=$${SECRET_KEY:-tests-only-not-secret} $(PY) -m pytest -m "not production and not live_server_process"

# The production topology (2 web processes, worker, beat, its own PostgreSQL + pgvector and Redis) under load
# and outages; needs redis-server and pgserver (.ci/pgvector-server installs it).
prod-check: install $(CLIENTS)/node_modules/.installed
	SECRET_KEY=$${SECRET_KEY:-tests-only-not-secret} $(PY) -m pytest -m production

check: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check --deploy --fail-level ERROR

worker: install
	$(VENV)/bin/celery -A openmemory worker --loglevel INFO --concurrency 2 --without-gossip --without-mingle

beat: install
	$(VENV)/bin/celery -A openmemory beat --loglevel INFO
