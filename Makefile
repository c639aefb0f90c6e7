# Two commands do all set-up on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install demo test bench airflow chromium clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (peacewatch needs Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, from its CPU build, so nothing resolves a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/peacewatch --data-dir data demo

test: $(STAMP) chromium
	$(BIN)/python -m pytest

# Debian's Chromium renders the digest in the browser test; installed when missing and possible.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "note: chromium is not installed and cannot be; the browser test will say it is skipped"

bench: $(STAMP)
	$(BIN)/python -m peacewatch.bench

# Airflow standalone on :8080 with the project's DAGs and the demo newsroom (see docs/deployment.md).
airflow: $(STAMP)
	VENV_BIN=$(abspath $(BIN)) scripts/airflow-standalone.sh

clean:
	rm -rf $(VENV) data reports .pytest_cache .airflow .bench
