# L2C — `make run` starts the product with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint bench install clean messages e2e

$(STAMP): pyproject.toml requirements/lock.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/lock.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: install, migrate var/l2c.sqlite3, load demo data if empty, serve web + worker + scheduler
run: $(STAMP)
	$(BIN)/l2c serve --host $(HOST) --port $(PORT) --demo

## test: install and run the whole suite (unit, API, visibility, browser)
test: $(STAMP)
	L2C_TESTING=1 $(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

## lint: ruff, mypy (strict on kernel and engines), import-linter contracts
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: every benchmark prints one JSON line (see docs/performance.md)
bench: $(STAMP)
	@for script in benchmarks/[a-z]*.py; do $(BIN)/python $$script || exit 1; done

## messages: refresh and compile the zh-hans/en translation catalogues
messages: $(STAMP)
	cd src/l2c && ../../$(BIN)/l2c manage makemessages -l en --no-obsolete --no-location
	cd src/l2c && ../../$(BIN)/l2c manage compilemessages

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
