# One gate for developers and CI: `make check` (format check, lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/demo
PORT ?= 8501
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo analysis app check test lint types install system clean

$(BIN)/radius: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/radius

install: $(BIN)/radius

# Debian packages: Chromium for the browser test, CJK fonts for maps and reports, Pango for
# WeasyPrint (the PDF report), poppler-utils to read the PDF back in the tests.
SYSTEM_PACKAGES := chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 poppler-utils
system:
	@command -v chromium >/dev/null && command -v pdftotext >/dev/null && \
	  fc-list 2>/dev/null | grep -qi "noto.*cjk" && ldconfig -p | grep -q libpangoft2 || \
	  ($(SUDO) apt-get update -qq && \
	   DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null)

# The main job: the analysis of the default district, then the app on it.
demo: analysis app

analysis: install
	$(BIN)/radius analyze --map --out $(OUT)

app: install
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

types: install
	$(BIN)/mypy

test: install system
	$(BIN)/pytest -n 2

check: lint types test

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache
