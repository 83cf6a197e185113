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

# pip runs again only when pyproject.toml is newer than these stamps, so a normal `make run` needs
# no network (a kiosk offline at school starts as it did yesterday) and prints nothing from pip.
STAMP      := $(VENV)/.muontra-installed
TEST_STAMP := $(VENV)/.muontra-installed-test
# The build back-end lives in the venv (--no-build-isolation): re-installing after a pyproject.toml
# change then needs the network only for dependencies that really changed.
BUILD_DEPS := "setuptools>=77" wheel
# setuptools prints an 8-line warning box for every editable install; it is advice for package
# authors, not for someone starting a kiosk.
QUIET_PIP  := PYTHONWARNINGS=ignore $(PIP) install -q --no-build-isolation

.PHONY: run test screenshots system-deps system-test-deps venv install install-test dist pi-check

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
# poppler (pdftoppm) and Debian's Chromium for the browser tests, NSS tools to trust the school CA in one, libatomic1 for Playwright's
# driver on arm64, systemd-analyze (package systemd) and cage to verify the appliance's units.
# --no-install-recommends: 12 packages instead of 101 on a fresh Debian 12.
system-deps:
	@missing=""; for p in libzbar0 fonts-dejavu-core; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

system-test-deps: system-deps
	@missing=""; for p in chromium poppler-utils libnss3-tools libatomic1 systemd cage; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip $(BUILD_DEPS)

venv: $(PY)

install: system-deps $(STAMP)

install-test: system-test-deps $(TEST_STAMP)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q $(BUILD_DEPS)
	$(QUIET_PIP) -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PIP) install -q $(BUILD_DEPS)
	$(QUIET_PIP) -e '.[test]'
	touch $(STAMP) $@

# A wheel with everything a kiosk needs (templates, static files, translations; fonts come from
# matplotlib's DejaVu when the system has none): dist/muontra-VERSION-py3-none-any.whl, what
# `muontra appliance install|upgrade` takes. build/ is removed first: setuptools would otherwise
# pack files deleted since the last build.
dist: $(STAMP)
	rm -rf build dist/muontra-*.whl
	PYTHONWARNINGS=ignore $(PIP) wheel -q --no-deps --no-build-isolation -w dist .
	rm -rf build

# The appliance on an emulated Raspberry Pi OS (Debian 12 arm64 under qemu-user-static): not in
# CI, slow (see docs/deployment.md for the last run's timings), needs root.
pi-check: dist
	@missing=""; for p in debootstrap qemu-user-static binfmt-support; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi
	$(SUDO) sh tools/pi-check.sh dist/muontra-*.whl tests/data/barcodes/ean13-1/10.webp
