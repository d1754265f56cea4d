# The README's two commands: `make demo` and `make test`. Both start from a machine with
# only Python 3.11+ and build their own virtual environment in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test lint browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs the package (torch resolves to the CPU build; see pyproject.toml) and writes a
# report on a bundled data set to reports/demo/index.html.
demo: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/interpretable-kd demo

# Installs the package with its test and lint extras, Debian's chromium for the browser
# tests, and runs the whole suite.
test: $(BIN)/python browser
	$(BIN)/pip install --quiet -e ".[test,lint]"
	$(BIN)/python -m pytest

lint: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,lint]"
	$(BIN)/ruff check .
	$(BIN)/python -m mypy interpretable_kd

# The browser tests drive Debian's chromium through playwright (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install Debian's chromium first: sudo apt-get install -y chromium"; exit 1; fi; }

clean:
	rm -rf $(VENV) reports/demo .pytest_cache .mypy_cache .ruff_cache
