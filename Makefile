# One gate for developers and CI: `make check` (format check, lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/demo

.PHONY: demo check test lint types install clean

$(BIN)/radius: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/radius

install: $(BIN)/radius

demo: install
	$(BIN)/radius reach --out $(OUT)

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

types: install
	$(BIN)/mypy

test: install
	$(BIN)/pytest -n 2

check: lint types test

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache
