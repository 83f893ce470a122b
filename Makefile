# `make run` sets up and runs the product; `make test` sets up and runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m bms.run

test: install
	$(BIN)/ruff check bms tests bench
	$(BIN)/ruff format --check bms tests bench
	$(BIN)/mypy bms
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check bms tests bench
	$(BIN)/ruff format --check bms tests bench

typecheck: install
	$(BIN)/mypy bms

bench: install
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) var artifacts
