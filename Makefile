# The two front-door commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DBT := $(BIN)/dbt
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

# Where `make test` builds its throw-away fleet and warehouse.
CI_DIR := data/ci

.PHONY: help install run build test lint contracts contracts-check ci-build pytest clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F":.*## " "{printf \"  make %-16s %s\\n\", \$$1, \$$2}"

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed ## create .venv with the pinned dependencies

run: install ## simulate a sample fleet if the landing folder is empty, build, summarise
	$(PY) -m ml.simulate sample-fleet
	$(MAKE) --no-print-directory build
	$(PY) -m ml.summary

build: install ## dbt build (seeds, snapshot, models, tests) on the dev warehouse
	mkdir -p data/warehouse
	$(DBT) build

test: install lint contracts-check ci-build pytest ## every check: lint, contracts, dbt build on a small fleet, pytest

lint: install ## ruff and sqlfluff
	$(BIN)/ruff check ml scripts tests/python
	$(BIN)/ruff format --check ml scripts tests/python
	rm -rf $(CI_DIR)/lint && mkdir -p $(CI_DIR)/lint/landing $(CI_DIR)/lint/warehouse
	PDM_LANDING_PATH=$(CI_DIR)/lint/landing PDM_WAREHOUSE_PATH=$(CI_DIR)/lint/warehouse/pdm.duckdb \
		$(BIN)/sqlfluff lint models tests snapshots analyses

contracts: install ## regenerate models/marts/fct_unit_cycle_features.yml after changing feature vars
	$(PY) scripts/generate_feature_contract.py

contracts-check: install ## fail if the generated feature-table contract is out of date
	$(PY) scripts/generate_feature_contract.py --check

ci-build: install ## dbt build (all models, data and unit tests) on a small simulated fleet, throw-away warehouse
	rm -rf $(CI_DIR)/build && mkdir -p $(CI_DIR)/build/landing $(CI_DIR)/build/warehouse
	$(PY) -m ml.simulate fleet --landing $(CI_DIR)/build/landing --dataset FD101 \
		--train-units 20 --test-units 20 --conditions 1 --fault-modes 1 --seed 1
	$(PY) -m ml.simulate fleet --landing $(CI_DIR)/build/landing --dataset FD102 \
		--train-units 20 --test-units 20 --conditions 6 --fault-modes 2 --seed 2
	PDM_LANDING_PATH=$(CI_DIR)/build/landing PDM_WAREHOUSE_PATH=$(CI_DIR)/build/warehouse/pdm.duckdb \
		$(DBT) build --target ci

pytest: install ## the Python test suite (real DuckDB files, real dbt builds in temp folders)
	$(BIN)/pytest

clean: ## remove build output (keeps .venv and data/landing)
	rm -rf target logs $(CI_DIR) data/warehouse
