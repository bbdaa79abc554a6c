# The two commands of the README: `make serve` and `make test`. Each sets up .venv first
# (with the dask extra, so the tests cover `riskmodel score --engine dask`).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint default-model bench clean catalogs bytecode

PACKAGES := riskmodel service commands batch training

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,dask]'
	touch $@

# Our packages compiled to bytecode ahead of time, as pip does for a package it installs:
# an editable install leaves that to the first import, which does not write it where
# PYTHONDONTWRITEBYTECODE is set (as on this machine and in many containers), so every
# start compiled our modules again (about a tenth of a second). Only changed files are
# compiled again. See docs/service.md, Start-up.
bytecode: $(BIN)/.installed
	$(BIN)/python -m compileall -q $(PACKAGES) >/dev/null

serve: bytecode
	$(BIN)/riskmodel serve

# pytest exits 5 when it collects no test: say so plainly rather than fail as a crash.
test: bytecode
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Rebuild the shipped default model from a fixed seed (see docs/model.md).
default-model: $(BIN)/.installed
	mkdir -p data
	$(BIN)/riskmodel generate --rows 50000 --seed 20261127 --with-truth --out data/default-history.csv
	$(BIN)/riskmodel train --data data/default-history.csv --out artifacts --promote

# Benchmarks run apart from the tests; bench_service needs wrk (apt-get install wrk).
bench: bytecode
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_score.py
	$(BIN)/python benchmarks/bench_faithfulness.py
	$(BIN)/python benchmarks/bench_batch.py --sizes 1000000
	$(BIN)/python benchmarks/bench_service.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# Message catalogs (docs/i18n.md): extract the marked texts (sorted, no line numbers, so
# a merge of two branches that touch texts conflicts only where a text changed), merge them into each language's
# .po file, compile the .mo files the packages ship. Run after changing a text; commit all.
# (the command line's catalog also holds the batch summary's lines it prints)
CATALOG_PACKAGES := riskmodel service commands
catalogs: $(BIN)/.installed
	for pkg in $(CATALOG_PACKAGES); do \
	  src=$$pkg; if [ $$pkg = commands ]; then src="commands batch"; fi; \
	  $(BIN)/pybabel extract -F babel.cfg --no-default-keywords -k N_ -k _ -k gettext -k ngettext:1,2 \
	    -k lazy_gettext --no-wrap --no-location --sort-output -o $$pkg/locale/$$pkg.pot $$src && \
	  $(BIN)/pybabel update -i $$pkg/locale/$$pkg.pot -d $$pkg/locale -D $$pkg --no-wrap \
	    --ignore-obsolete && \
	  $(BIN)/pybabel compile -d $$pkg/locale -D $$pkg --statistics || exit 1; \
	done
