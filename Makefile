# Two commands for a new user: `make run` (service on the embedded defaults) and `make test`.
# Both set up what they need first and are safe to run again.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint clean

# torch is named in the same pip command as the project: alone, pip would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "citeqa needs Python 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0 -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/citeqa serve --ingest seeds/

test: install
	$(BIN)/ruff check service ingest tests
	$(BIN)/mypy service ingest
	$(BIN)/python -m pytest

# While working: no model load, no server, no Chromium (tests using those are marked slow: tests/conftest.py).
test-fast: install
	$(BIN)/ruff check service ingest tests
	$(BIN)/python -m pytest -m "not slow" -q

lint: install
	$(BIN)/ruff check service ingest tests
	$(BIN)/mypy service ingest

clean:
	rm -rf $(VENV) .citeqa .pytest_cache
