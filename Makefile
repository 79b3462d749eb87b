# Two entry points for a fresh machine with Python 3.11 and make:
#   make demo   install, then screen a sample customer file into report.xlsx
#   make test   install (with test extras and a headless browser), then run every test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-test browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Debian's Chromium for the browser tests (never a downloaded browser build); needs root or sudo.
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null)"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "no root: browser tests will be skipped"; fi

demo: install
	@$(BIN)/screener screen sample_orders/customer_master.xlsx -o report.xlsx; \
	code=$$?; if [ $$code -eq 1 ]; then echo "exit 1: potential matches found, see report.xlsx"; \
	elif [ $$code -ne 0 ]; then exit $$code; fi

test: install-test browser
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/quality.py --csl-negatives

clean:
	rm -rf $(VENV) report.xlsx .pytest_cache
