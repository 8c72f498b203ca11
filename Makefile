# `make run`: set up .venv and run the quick benchmark (plots + table in results/).
# `make test`: set up .venv and run linters, type checks and the whole test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint clean

# pyrfr (the smac-rf extra) ships as source only and its build calls `swig`: PyPI's swig
# wheel provides it in the venv, used without build isolation (an isolated build cannot
# run the venv's swig script). Keep the pyrfr spec in step with pyproject.toml.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --upgrade swig setuptools wheel
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install --quiet --no-build-isolation 'pyrfr>=0.9,<0.10'
	$(PY) -m pip install --quiet -e '.[all,smac-rf,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m benchmarks.run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache
