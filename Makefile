# Siyu developer entry points. `make run` and `make test` work on a fresh machine with only Python ≥ 3.11.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PORT ?= 8000
ONLY ?=

.PHONY: run test test-sqlite test-postgres bench messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $@

## Run Siyu with the demo brand at http://127.0.0.1:$(PORT) (SQLite and jobs in ./var).
run: $(STAMP)
	$(BIN)/siyu run --demo --port $(PORT)

## The whole suite on SQLite, then again on PostgreSQL when SIYU_TEST_DATABASE_URL is set.
test: $(STAMP)
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$SIYU_TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	else echo "SIYU_TEST_DATABASE_URL not set: skipped the PostgreSQL run (.ci/run sets it)"; fi

test-sqlite: $(STAMP)
	env -u SIYU_TEST_DATABASE_URL $(BIN)/pytest -q -p no:cacheprovider

test-postgres: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

## Benchmarks: `make bench` runs all, `make bench ONLY=dispatcher` one, KEEP=1 keeps generated data; results in benchmarks/results/.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(if $(ONLY),--only $(ONLY)) $(if $(KEEP),--keep)

## Re-extract and compile translations (needs GNU gettext).
messages: $(STAMP)
	./scripts/messages.sh

clean:
	rm -rf $(VENV) .pytest_cache
