# Two commands on a fresh machine with Python 3.11+, git and make:
#   make build   sets up .venv on first use and builds the demo site into output/
#   make test    runs the whole test suite (lint, types, tests)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# The demo content is built "as of" this moment, so the build is reproducible and its
# current-alerts box shows what it was written to show.
DEMO_NOW ?= 2026-11-20T09:00:00+00:00
N ?= 10000

.PHONY: build test serve lint check bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

build: $(STAMP)
	$(BIN)/python publish.py build --now $(DEMO_NOW)

check: $(STAMP)
	$(BIN)/python publish.py check

serve: $(STAMP)
	$(BIN)/python publish.py serve --now $(DEMO_NOW)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest --cov --cov-report=term

bench: $(STAMP)
	$(BIN)/python bench/run.py --alerts $(N) --big $$(( $(N) * 10 ))

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --alerts 1000 --runs 3

clean:
	rm -rf output .cascade
