# `make run`: install, migrate, create the local user and serve on 127.0.0.1:8765. `make test`: the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8765
OPENMEMORY_USER ?= $(or $(USER),$(shell id -un),local)

.PHONY: install run serve test check worker beat

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

run: install
	OPENMEMORY_CREATE_SECRET_KEY=true $(PY) manage.py migrate --noinput
	$(PY) manage.py setup_local $(OPENMEMORY_USER) --base-url http://$(HOST):$(PORT)
	$(MAKE) --no-print-directory serve

serve:
	$(VENV)/bin/uvicorn openmemory.asgi:application --host $(HOST) --port $(PORT) --no-access-log --lifespan off

test: install
	SECRET_KEY=$${SECRET_KEY:-tests-only-not-secret} $(PY) -m pytest

check: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check --deploy --fail-level ERROR

worker: install
	$(VENV)/bin/celery -A openmemory worker --loglevel INFO --concurrency 2

beat: install
	$(VENV)/bin/celery -A openmemory beat --loglevel INFO
