# Mượn Trả — two user-facing targets: `make run` and `make test`.
# Everything else here is a step they share; every step is idempotent.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
DATA   ?= data
HOST   ?= 127.0.0.1
PORT   ?= 5000
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test screenshots system-deps system-test-deps venv install install-test

run: install
	$(VENV)/bin/muontra demo --data $(DATA) --if-empty
	$(VENV)/bin/muontra kiosk --data $(DATA) --host $(HOST) --port $(PORT)

test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

# Refresh the pictures under docs/screenshots from the browser tests (the test run itself writes
# them to test-artifacts/, so it leaves the tree clean).
screenshots: install-test
	MUONTRA_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PY) -m pytest -q -m browser tests $(PYTEST_ARGS)

# System libraries: ZBar for pyzbar, a font with Vietnamese diacritics for PDFs,
# poppler (pdftoppm) and Debian's Chromium for the browser tests.
system-deps:
	@missing=""; for p in libzbar0 fonts-dejavu-core; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

system-test-deps: system-deps
	@missing=""; for p in chromium poppler-utils; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

venv: $(PY)

install: system-deps venv
	$(PIP) install -q -e .

install-test: system-test-deps venv
	$(PIP) install -q -e '.[test]'
