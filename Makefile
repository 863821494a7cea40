# `make run`: PostGIS up, schema migrated, demo loaded, app on http://127.0.0.1:8000
# `make test`: same set-up, then pytest on every core (-n auto), each worker on a throwaway database
# DATABASE_URL=postgresql://user@host:port/db points both at an existing server.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint bench

$(BIN)/.installed: pyproject.toml
	scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

run: setup
	@url="$$(scripts/ensure-db.sh)" && export DATABASE_URL="$$url" && \
	$(BIN)/carto db upgrade && $(BIN)/carto demo load && \
	echo "Terreau : http://$(HOST):$(PORT)" && $(BIN)/carto serve --host $(HOST) --port $(PORT)

test: setup
	@scripts/system-deps.sh
	@url="$$(scripts/ensure-db.sh)" && DATABASE_URL="$$url" $(BIN)/pytest -n auto $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check carto api tests bench migrations
	$(BIN)/mypy carto api

bench: setup
	@url="$$(scripts/ensure-db.sh)" && scripts/bench.sh "$$url" $(BENCH_ARGS)
