# One gate for developers and CI: `make check` (format check, lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/demo
PORT ?= 8501
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo analysis app check test lint types install system system-runtime clean

$(BIN)/radius: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/radius

install: $(BIN)/radius

# Debian packages. The main job needs CJK fonts (maps, reports) and Pango (WeasyPrint, the
# PDF report, the app's PDF download); the tests also need Chromium (the browser test) and
# poppler-utils (pdftotext reads the PDF back).
RUNTIME_PACKAGES := fontconfig fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0
TEST_PACKAGES := $(RUNTIME_PACKAGES) chromium poppler-utils
define apt_install
$(SUDO) apt-get update -qq && \
  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(1) >/dev/null
endef

system-runtime:
	@fc-list 2>/dev/null | grep -qi "noto.*cjk" && ldconfig -p | grep -q libpangoft2 || \
	  ($(call apt_install,$(RUNTIME_PACKAGES)))

system: system-runtime
	@command -v chromium >/dev/null && command -v pdftotext >/dev/null || \
	  ($(call apt_install,$(TEST_PACKAGES)))

# The main job: the analysis of the default district, then the app on it.
demo: analysis app

analysis: install system-runtime
	$(BIN)/radius analyze --map --out $(OUT)

app: install system-runtime
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
