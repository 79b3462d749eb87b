# Two entry points for a fresh machine with Python 3.11 and make:
#   make demo   check system packages, install, then screen a sample customer file into report.xlsx
#   make test   check system packages (installing them as root), install with test extras, run every
#               test, then build the wheel and smoke-test it in a clean venv outside the checkout
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip --quiet --disable-pip-version-check

.PHONY: demo test install install-test prereqs prereqs-test pytest wheel-smoke bench clean

# PyICU builds from source: a C++ compiler, pkg-config and the ICU headers (installed with apt as root).
prereqs:
	@scripts/prereqs.sh build

# The tests also drive Debian's chromium, print with LibreOffice and start a PostgreSQL server.
prereqs-test:
	@scripts/prereqs.sh test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Editable installs, for development only; CI also tests the built wheel (wheel-smoke).
$(VENV)/.installed: pyproject.toml | prereqs $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | prereqs $(BIN)/python
	$(PIP) install -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: install
	@$(BIN)/screener screen sample_orders/customer_master.xlsx -o report.xlsx; \
	code=$$?; if [ $$code -eq 1 ]; then echo "exit 1: potential matches or rows not screened, see report.xlsx"; \
	elif [ $$code -ne 0 ]; then exit $$code; fi

pytest: prereqs-test install-test
	$(BIN)/python -m pytest -q

wheel-smoke: prereqs
	scripts/wheel_smoke.sh $(PYTHON)

test: pytest wheel-smoke

bench: install
	$(BIN)/python benchmarks/quality.py --csl-negatives

clean:
	rm -rf $(VENV) report.xlsx .pytest_cache build dist
