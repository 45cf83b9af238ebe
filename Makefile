# L2C — `make run` starts the product with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint bench install native clean messages e2e

$(STAMP): pyproject.toml requirements/lock.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/lock.txt -e '.[dev]'
	touch $(STAMP)

# The hot pure engines compiled with mypyc (ADR 0007); rebuilt when a source changes. Without a C
# compiler the build says so and the engines run as plain Python.
NATIVE := src/l2c/engines/native.json
NATIVE_SOURCES := tools/build_native.py src/l2c/engines/native.py \
	$(addprefix src/l2c/engines/pricing/,types.py compile.py engine.py render.py)

$(NATIVE): $(STAMP) $(NATIVE_SOURCES)
	$(BIN)/python tools/build_native.py

install: $(STAMP) $(NATIVE)

native: $(NATIVE)

## run: install, migrate var/l2c.sqlite3, load demo data if empty, serve web + worker + scheduler
run: $(STAMP) $(NATIVE)
	$(BIN)/l2c serve --host $(HOST) --port $(PORT) --demo

## test: install and run the whole suite (unit, API, visibility, browser)
test: $(STAMP) $(NATIVE)
	L2C_TESTING=1 $(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

## lint: ruff, mypy (strict on kernel and engines), import-linter contracts
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: every benchmark prints one JSON line (see docs/performance.md)
bench: $(STAMP) $(NATIVE)
	@for script in benchmarks/[a-z]*.py; do $(BIN)/python $$script || exit 1; done

## messages: refresh and compile the zh-hans/en translation catalogues
messages: $(STAMP)
	cd src/l2c && ../../$(BIN)/l2c manage makemessages -l en --no-obsolete --no-location
	cd src/l2c && ../../$(BIN)/l2c manage compilemessages

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(NATIVE)
	find src -name '*.so' -delete
