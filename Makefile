# ravine: `make demo` then `make test` on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
# torch is pinned here (a CPU wheel on these machines); pyproject keeps a wide range for users.
TORCH   ?= torch==2.13.0
STAMP   := $(VENV)/.installed
# test processes (pytest-xdist): one per core by default; WORKERS=1 runs the suite in one process
WORKERS ?= auto

.PHONY: demo test lint format install browser perf perf-explorer clean

$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[all,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ravine demo --out out/demo

# the explorer's end-to-end test drives Debian's chromium (never a downloaded browser)
browser:
	bash scripts/install-browser.sh

# bytecode caches (the gitignored __pycache__ folders) even where the environment turns them off:
# without them every test process and every `ravine` subprocess compiles ravine and the tests again
test: $(STAMP) browser
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(WORKERS) --dist loadgroup --durations=15

# ruff: lint and format; mypy: the core's types (both configured in pyproject.toml);
# CI runs `make lint` before the tests
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

perf: $(STAMP)
	$(BIN)/python perf/runner.py
	$(BIN)/python perf/step.py

perf-explorer: $(STAMP)
	$(BIN)/python perf/explorer.py

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
