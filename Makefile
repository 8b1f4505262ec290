# One entry point. `make demo` and `make test` work from a fresh clone with nothing installed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test lint typecheck pytest sysdeps screenshots bench clean lock

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv
	@VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install -q -r requirements.lock
	@VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install -q --no-deps -e .
	@touch $@

install: $(STAMP) ## Create .venv and install the project with the pinned dependencies

demo: $(STAMP) ## Embedded backend on SQLite with demo data, then the console
	$(BIN)/hitl demo

sysdeps: ## Install the system packages the tests need (as root; under CI=true a missing one fails)
	@bash tests/sysdeps.sh

lint: $(STAMP) ## ruff format --check, ruff check, import contracts
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP) ## mypy --strict on store, backend, console
	$(BIN)/mypy

pytest: $(STAMP) ## Run the test suite only
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: $(STAMP) sysdeps lint typecheck pytest ## Everything CI runs

screenshots: $(STAMP) ## Render the TUI screens from demo data into screenshots/
	$(BIN)/python tests/screenshots.py

bench: $(STAMP) ## Benchmarks (slow; prints figures): see tests/bench/
	$(BIN)/python tests/bench/bench_api.py --sizes 10000
	$(BIN)/python tests/bench/bench_ingest.py --size 10000
	$(BIN)/python tests/bench/bench_policy.py

lock: ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra test --extra postgres -o requirements.lock

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
