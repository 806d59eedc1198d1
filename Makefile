# carbon_credits: `make run` serves on http://127.0.0.1:5000, `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite migrate seed worker scheduler bench faults audit clean vendor

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-assets.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-assets.txt
	touch $@

migrate: $(VENV)/.installed
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) seed

# RUN_SCHEDULER=1: gunicorn also runs the due jobs every SCHEDULER_INTERVAL_SECONDS (30) in a
# `flask jobs loop` process it starts and stops (gunicorn.conf.py); RUN_SCHEDULER=0 to leave out.
RUN_SCHEDULER ?= 1
run: seed
	RUN_SCHEDULER=$(RUN_SCHEDULER) $(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

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
	rm -rf build/screenshots

bench: $(VENV)/.installed
	cd bench && ../$(BIN)/python run.py $(BENCH_ARGS)

faults: $(VENV)/.installed
	cd bench && ../$(BIN)/python faults.py $(FAULTS_ARGS)

# A Python client generated from the OpenAPI document into build/client/ (an installable
# project: `pip install ./build/client`); settings in openapi-client.yml, docs/api.md. The
# document is the one the service serves; OPENAPI_URL=<.../api/v1/openapi.json> reads a running one.
.PHONY: client
OPENAPI_URL ?=
client: $(VENV)/.installed
	@set -euo pipefail; mkdir -p build; rm -rf build/client; \
	if [ -n "$(OPENAPI_URL)" ]; then source=(--url "$(OPENAPI_URL)"); else \
	  PYTHONWARNINGS=ignore::RuntimeWarning $(FLASK) openapi write build/openapi.json; \
	  source=(--path build/openapi.json); fi; \
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/openapi-python-client generate "$${source[@]}" \
	  --output-path build/client --meta setup --config openapi-client.yml --fail-on-warning

# Debian's Chromium and chromium-driver for the browser tests (tests/browser), and a CJK font
# so that their screenshots show the Chinese pages. Installs only what is missing; apt-get needs
# root or password-less sudo (docs/browser-tests.md). CHROMIUM_PATH names another Chromium.
.PHONY: browser
CHROMIUM_PATH ?= /usr/bin/chromium
CJK_FONT := fonts-wqy-zenhei
browser:
	@installed() { dpkg-query -W -f='$${Status}' "$$1" 2>/dev/null | grep -q 'ok installed'; }; \
	packages=""; \
	[ -x "$(CHROMIUM_PATH)" ] || packages=" chromium chromium-driver"; \
	if command -v dpkg-query >/dev/null && ! installed $(CJK_FONT) && ! installed fonts-noto-cjk; then \
	  packages="$$packages $(CJK_FONT)"; fi; \
	if [ -z "$${packages// }" ]; then echo "browser: Chromium at $(CHROMIUM_PATH)"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else sudo="none"; fi; \
	if ! command -v apt-get >/dev/null || [ "$$sudo" = none ]; then \
	  if [ -x "$(CHROMIUM_PATH)" ]; then \
	    echo "browser: Chromium at $(CHROMIUM_PATH); no CJK font (apt-get install $(CJK_FONT)): screenshots show boxes for Chinese" >&2; exit 0; fi; \
	  echo "browser: no Chromium at $(CHROMIUM_PATH), and this user cannot install it (needs apt-get as root or password-less sudo)." >&2; \
	  echo "browser: run 'sudo apt-get install -y chromium chromium-driver $(CJK_FONT)', or set CHROMIUM_PATH to a Chromium." >&2; \
	  exit 1; fi; \
	echo "browser: apt-get install$$packages"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$packages >/dev/null || { \
	  echo "browser: apt-get install$$packages failed" >&2; exit 1; }; \
	[ -x "$(CHROMIUM_PATH)" ] || { echo "browser: still no Chromium at $(CHROMIUM_PATH) (Debian's is /usr/bin/chromium)" >&2; exit 1; }; \
	echo "browser: Chromium at $(CHROMIUM_PATH)"

# Localisation (docs/localisation.md). i18n-extract: the English messages (babel.cfg) into
# messages.pot, then into the zh catalog (new ones empty, gone ones dropped; translate the empty
# msgstr). i18n-compile: the .mo the service reads, committed beside its .po (a test fails when
# it is stale).
I18N_DIR := api/translations
.PHONY: i18n-extract i18n-compile
i18n-extract: $(VENV)/.installed
	PYTHONPATH=. $(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --width 100 \
	  --project carbon_credits --copyright-holder carbon_credits -o $(I18N_DIR)/messages.pot .
	$(BIN)/pybabel update -i $(I18N_DIR)/messages.pot -d $(I18N_DIR) --no-fuzzy-matching \
	  --ignore-obsolete --width 100

i18n-compile: $(VENV)/.installed
	$(BIN)/pybabel compile -d $(I18N_DIR) --statistics

# pip-audit needs PyPI's vulnerability API or OSV (see docs/reliability.md).
audit: $(VENV)/.installed
	$(BIN)/pip install --quiet pip-audit==2.10.1
	$(BIN)/pip-audit --progress-spinner off --strict -r requirements.txt

# Browser libraries the pages serve from /static/vendor (api/static/vendor/VENDORED.md): fetched
# from the npm registry at pinned versions, checked against the recorded SHA-256, committed.
VENDOR_DIR := api/static/vendor
vendor:
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cd "$$tmp"; \
	npm pack --silent htmx.org@2.0.11 jsqr@1.4.0 >/dev/null; \
	mkdir htmx jsqr; tar -xzf htmx.org-2.0.11.tgz -C htmx; tar -xzf jsqr-1.4.0.tgz -C jsqr; \
	cd "$(CURDIR)"; \
	cp "$$tmp/htmx/package/dist/htmx.min.js" $(VENDOR_DIR)/htmx-2.0.11.min.js; \
	cp "$$tmp/htmx/package/LICENSE" $(VENDOR_DIR)/htmx.LICENSE; \
	cp "$$tmp/jsqr/package/dist/jsQR.js" $(VENDOR_DIR)/jsQR-1.4.0.js; \
	cp "$$tmp/jsqr/package/LICENSE" $(VENDOR_DIR)/jsQR.LICENSE; \
	cd $(VENDOR_DIR) && grep -oE '^\| [^ ]+\.js \|.*\| [0-9a-f]{64} \|$$' VENDORED.md \
	  | awk -F'|' '{gsub(/ /,"",$$2); gsub(/ /,"",$$5); print $$5"  "$$2}' | sha256sum -c -
