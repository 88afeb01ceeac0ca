# Quick start: `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MPLBACKEND := Agg

.PHONY: demo test test-slow docs kernel bench lint format regen-golden clean

$(BIN)/fields: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,docs]"
	touch $(BIN)/fields

demo: $(BIN)/fields
	mkdir -p results
	$(BIN)/fields run --days 3650 --geometry 2d --output-every 365 --seed 0 --out results/demo.nc
	$(BIN)/fields plot results/demo.nc --out results/demo.png
	@echo "wrote results/demo.nc and results/demo.png"

test: $(BIN)/fields
	$(BIN)/ruff check fields tests docs
	$(BIN)/ruff format --check fields tests docs
	$(BIN)/lint-imports
	$(MAKE) docs
	$(BIN)/python -m pytest -q tests

# The documentation, warnings as errors; it executes the notebooks in their quick setting.
docs: $(BIN)/fields
	FIELDS_NOTEBOOK_QUICK=1 $(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

test-slow: $(BIN)/fields
	$(BIN)/python -m pytest -q -o addopts="" -ra --strict-markers -m slow tests

kernel: $(BIN)/fields
	$(BIN)/python -m ipykernel install --user --name fields --display-name "fields (.venv)"

bench: $(BIN)/fields
	mkdir -p results
	$(BIN)/fields bench --markdown results/bench.md

lint: $(BIN)/fields
	$(BIN)/ruff check fields tests docs
	$(BIN)/ruff format --check fields tests docs
	$(BIN)/lint-imports

format: $(BIN)/fields
	$(BIN)/ruff format fields tests docs
	$(BIN)/ruff check --fix fields tests docs

regen-golden: $(BIN)/fields
	$(BIN)/python -m tests.regression.regen

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis docs/_build docs/generated docs/api
