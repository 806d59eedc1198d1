# carbon_credits: `make run` serves on http://127.0.0.1:5000, `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite migrate seed worker scheduler bench faults audit clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

migrate: $(VENV)/.installed
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) seed

run: seed
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

test: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

# The suite on the embedded default even when DATABASE_URL/REDIS_URL are exported.
test-sqlite: $(VENV)/.installed
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest $(PYTEST_ARGS)

worker: $(VENV)/.installed
	$(BIN)/rq worker --url "$${REDIS_URL:?set REDIS_URL}" carbon_credits

# Enqueues every due job each minute (scheduler.py); run beside one or more workers.
scheduler: $(VENV)/.installed
	$(BIN)/rq cron --url "$${REDIS_URL:?set REDIS_URL}" scheduler

clean:
	rm -rf $(VENV) instance/carbon_credits.db*

bench: $(VENV)/.installed
	cd bench && ../$(BIN)/python run.py $(BENCH_ARGS)

faults: $(VENV)/.installed
	cd bench && ../$(BIN)/python faults.py $(FAULTS_ARGS)

# pip-audit needs PyPI's vulnerability API or OSV (see docs/reliability.md).
audit: $(VENV)/.installed
	$(BIN)/pip install --quiet pip-audit==2.10.1
	$(BIN)/pip-audit --progress-spinner off --strict -r requirements.txt
