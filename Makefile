# Everything a fresh machine needs: `make setup`, then `make test` or `make run`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SAMPLE ?= samples/storm-live-2024-10-12.txt


.PHONY: setup redis-server chromium test test-fast run reliability bench clean

setup: $(VENV)/.installed redis-server chromium

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The real-server tests need redis-server; install it when missing (root on Debian/Ubuntu).
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else echo "redis-server missing: install it (apt-get install redis-server)" >&2; exit 1; fi; }

# tests/web/test_browser.py drives Debian's Chromium through Playwright (no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: apt-get install chromium (the browser test fails in CI without it)" >&2; fi; }

# The whole suite, against a private redis-server the tests start themselves.
test: setup
	$(PY) -m pytest -q

# Unit tests only (fakeredis, no processes): seconds, for the edit loop.
test-fast: setup
	$(PY) -m pytest -q -m "not redis and not slow"

# The fault scenarios alone (SIGKILL, SIGTERM, timeouts, restarts): also part of `make test`.
reliability: setup
	$(PY) -m pytest -q -m reliability

bench: setup
	$(VENV)/bin/liveblog bench --quick

run: setup
	$(VENV)/bin/liveblog run $(SAMPLE) --tz Europe/London

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
