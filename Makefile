# Two commands: `make demo` and `make test`. Only Python 3.11+ and the package registries needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SERVE_STAMP := $(VENV)/.installed-serve

.PHONY: demo test lint typecheck unit bench lock clean

# Two locks of the same versions: requirements-serve.lock (what serving imports: `make demo`)
# and requirements.lock (that + the `train` and `dev` extras: `make test`, `clameur train`).
$(SERVE_STAMP): pyproject.toml requirements-serve.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-serve.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(SERVE_STAMP)

$(STAMP): pyproject.toml requirements.lock requirements-serve.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP) $(SERVE_STAMP)

demo: $(SERVE_STAMP)  ## set up what serving needs, load the demo data on SQLite, serve it
	$(BIN)/clameur demo

test: $(STAMP) lint typecheck unit  ## set up and run every check

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

# One pytest worker per core (pytest-xdist): tests are independent (a database, a port, a
# temporary folder of their own). PYTEST_WORKERS=0 runs them in this process, one by one.
PYTEST_WORKERS ?= auto
unit: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/python bench/import_throughput.py

lock:  ## refresh requirements.lock (all extras) and requirements-serve.lock (serving, same versions)
	$(PYTHON) -m pip install --quiet uv && $(PYTHON) -m uv pip compile pyproject.toml --extra dev --extra train --python-version 3.11 -o requirements.lock
	$(PYTHON) -m uv pip compile pyproject.toml --python-version 3.11 -c requirements.lock --annotation-style line --custom-compile-command "make lock" -o requirements-serve.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
