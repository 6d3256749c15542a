# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test setup migrate

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

setup: $(BIN)/.installed

migrate: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0

## Serve the demo site on http://127.0.0.1:$(PORT)/demo/ (SQLite, no other server needed).
run: migrate
	$(BIN)/python manage.py seed_demo
	@echo "Demo page: http://127.0.0.1:$(PORT)/demo/   API docs: http://127.0.0.1:$(PORT)/api/docs/   Admin: http://127.0.0.1:$(PORT)/admin/"
	$(BIN)/python manage.py runserver --noreload 127.0.0.1:$(PORT)

## Run the whole test suite (browser tests skip where Chromium is missing).
test: migrate
	@if command -v npm >/dev/null 2>&1 && [ -f banner_static/banner.mk ]; then $(MAKE) --no-print-directory banner-deps; fi
	$(BIN)/python -m pytest $(PYTEST_ARGS)

-include banner_static/banner.mk
