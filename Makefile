# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The settings read it too: links in emails follow it (CMP_PUBLIC_URL's default).
export PORT
# Development mode for what these targets run (production turns it off by
# not setting it: see the README's Configuration table).
export DEBUG ?= 1

.PHONY: run test check setup migrate messages makemessages

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed requirements-test.txt
	$(BIN)/pip install -q -r requirements-test.txt
	touch $@

setup: $(BIN)/.installed

migrate: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0

## Serve the demo site on http://127.0.0.1:$(PORT)/demo/ (SQLite, no other server needed),
## with the scheduled jobs run beside it when due (manage.py run_schedule: no broker needed).
run: migrate
	$(BIN)/python manage.py seed_demo
	@echo "Demo page: http://127.0.0.1:$(PORT)/demo/   API docs: http://127.0.0.1:$(PORT)/api/docs/   Admin: http://127.0.0.1:$(PORT)/admin/"
	$(BIN)/python manage.py run_schedule & trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python manage.py runserver --noreload 127.0.0.1:$(PORT)

## The code's own checks: style (ruff) and the apps' import contracts (import-linter).
check: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

# Node tools some tests use (axe-core; redocly and @iabgpp/cmpapi in tools/), installed again only when a lock file changes.
NODE_TOOLS := banner_static/node_modules/.installed tools/node_modules/.installed
%/node_modules/.installed: %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed

## Compile every locale/<lang>/LC_MESSAGES/django.po to its .mo (committed; pure Python, no GNU gettext needed).
messages: $(BIN)/.installed-test
	$(BIN)/pybabel compile --domain django --directory locale --statistics

## Add new or changed msgids of the code to every catalog (needs GNU gettext's xgettext). The admin
## template in audit/ reuses a msgid of Django's admin, which Django's own catalogs translate.
makemessages: setup
	$(BIN)/python manage.py makemessages --all --no-obsolete --add-location=file --ignore='tests/*' \
	  --ignore='bench/*' --ignore='banner_static/*' --ignore='staticfiles/*' --ignore='audit/templates/*'

## Run the whole test suite (browser tests skip where Chromium is missing). Needs no npm: the banner's
## build is committed; without npm, the tests that need axe-core, redocly or the IAB GPP library skip (CI fails them instead).
test: migrate $(BIN)/.installed-test check
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_TOOLS); \
	else echo "npm not found: the tests that need axe-core, redocly or the IAB GPP library will skip"; fi
	$(BIN)/python -m pytest $(PYTEST_ARGS)

-include banner_static/banner.mk
