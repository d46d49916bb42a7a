# The project's front door. `make demo` and `make test` work on a fresh machine: they create
# the virtual environments and install what they need.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Django 6.x runs on Python 3.12+; pyenv's interpreters are found even without a shim on PATH.
PY312 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null))
PY313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null))
DJANGO_SETTINGS := tests.settings
PYTEST_ARGS ?=

.PHONY: install demo test lint typecheck check-migrations test-sqlite test-postgres \
        test-django6 docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The example project on http://127.0.0.1:8000 with a demo admin, against localstripe (or Stripe
# test mode when STRIPE_API_KEY=sk_test_... is set). Options: make demo DEMO_ARGS="--help".
DEMO_ARGS ?=
demo: $(STAMP)
	$(BIN)/python example/demo.py $(DEMO_ARGS)

# The scripted tour of the customer actions (in-process fake Stripe, no server).
.PHONY: demo-tour browser-test-deps
demo-tour: $(STAMP)
	$(BIN)/python example/tour.py

# What tests/test_browser.py needs: Debian's chromium (installed only when missing; Playwright
# drives it, `playwright install` is never used) and the playwright package in the venv.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-test-deps: $(STAMP)
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium; }
	@$(BIN)/python -c "import playwright.sync_api" 2>/dev/null || $(BIN)/pip install -q playwright

lint: $(STAMP)
	$(BIN)/ruff check src tests example
	$(BIN)/ruff format --check src tests example

typecheck: $(STAMP)
	$(BIN)/mypy src/stripe_integrations

check-migrations: $(STAMP)
	DJANGO_SETTINGS_MODULE=$(DJANGO_SETTINGS) PYTHONPATH=. $(BIN)/django-admin makemigrations --check --dry-run stripe_integrations

test-sqlite: $(STAMP)
	DB=sqlite $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)
	DB=postgres $(BIN)/pytest $(PYTEST_ARGS)

# Django 6.x on Python 3.12 and 3.13, each in its own virtual environment, SQLite and PostgreSQL.
define django6_venv
.venv-$(1)/.installed-stamp: pyproject.toml
	$(2) -m venv .venv-$(1)
	.venv-$(1)/bin/pip install -q --upgrade pip
	.venv-$(1)/bin/pip install -q -e ".[dev]" "Django>=6.0,<7"
	touch .venv-$(1)/.installed-stamp
endef
$(eval $(call django6_venv,py312,$(PY312)))
$(eval $(call django6_venv,py313,$(PY313)))

test-django6: .venv-py312/.installed-stamp .venv-py313/.installed-stamp
	.venv-py312/bin/python -c "import django, sys; print('Django', django.__version__, 'on Python', sys.version.split()[0])"
	DB=sqlite .venv-py312/bin/pytest -q $(PYTEST_ARGS)
	DB=postgres .venv-py312/bin/pytest -q $(PYTEST_ARGS)
	.venv-py313/bin/python -c "import django, sys; print('Django', django.__version__, 'on Python', sys.version.split()[0])"
	DB=sqlite .venv-py313/bin/pytest -q $(PYTEST_ARGS)
	DB=postgres .venv-py313/bin/pytest -q $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

test: lint typecheck check-migrations docs browser-test-deps test-sqlite test-postgres test-django6

clean:
	rm -rf $(VENV) .venv-py312 .venv-py313 site .pytest_cache .mypy_cache .ruff_cache

# Webhook endpoint benchmark, ours against dj-stripe 2.11 side by side (see bench/webhooks.py;
# bench/.venv-djstripe is created on first use). E.g. make bench-webhooks BENCH_ARGS="--db postgres"
.PHONY: bench-webhooks
BENCH_ARGS ?=
bench-webhooks: $(STAMP)
	$(BIN)/python bench/webhooks.py $(BENCH_ARGS)
