# make run  : create .venv, install, run the daily DAG once for today (embedded Airflow + SQLite)
# make test : install dev extras and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
ROOT := $(CURDIR)
TODAY := $(shell date -u +%F)
# The run at TODAY 06:00 UTC closes the interval [yesterday 06:00, today 06:00): run date = today.
LOGICAL := $(TODAY)T06:00:00+00:00
# The SEC source runs first (04:30 UTC, after EDGAR's nightly index): same run date.
SEC_LOGICAL := $(TODAY)T04:30:00+00:00
# Epoch AI (05:00 UTC): same run date.
EPOCH_LOGICAL := $(TODAY)T05:00:00+00:00
# Regulators' feeds and 8-Ks (05:30 UTC, after the SEC source listed the 8-Ks): same run date.
FEEDS_LOGICAL := $(TODAY)T05:30:00+00:00

export AIRFLOW_HOME := $(ROOT)/var/airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(ROOT)/dags
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN := sqlite:///$(ROOT)/var/airflow/airflow.db
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION := True
export AIRFLOW__LOGGING__LOGGING_LEVEL := WARNING
export RISKMODELS_HOME := $(ROOT)

.PHONY: run test lint airflow airflow-db bench clean serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

var/airflow/airflow.db: | $(VENV)/.installed
	mkdir -p var/airflow
	$(BIN)/airflow db migrate > var/airflow/db-migrate.log 2>&1 || (cat var/airflow/db-migrate.log; exit 1)

airflow-db: var/airflow/airflow.db

run: $(VENV)/.installed var/airflow/airflow.db
	@echo "Sources replayed from data/recorded/ (SEC EDGAR, Epoch AI, the FTC, EC, CMA and DOJ feeds), then the daily DAG for run date $(TODAY);"
	@echo "the four DAG runs share one process (scripts/dags_test.py calls Airflow's own 'dags test' for each)."
	@$(BIN)/python scripts/dags_test.py \
	  "sec_filings=$(SEC_LOGICAL)=var/airflow/last-sec-run.log" \
	  "epoch_compute=$(EPOCH_LOGICAL)=var/airflow/last-epoch-run.log" \
	  "regulatory_feeds=$(FEEDS_LOGICAL)=var/airflow/last-feeds-run.log" \
	  "ai_stack_daily=$(LOGICAL)=var/airflow/last-run.log"
	@$(BIN)/python scripts/run_summary.py "$(ROOT)/var/reports/report-$(TODAY).html"

# A real local deployment (api-server, scheduler, dag-processor) on PostgreSQL metadata until Ctrl-C.
airflow: $(VENV)/.installed
	$(BIN)/python -m riskmodels.stack

# Browse and query the SQLite store (after `make run`) in Datasette, read-only, on 127.0.0.1.
PORT ?= 8001
serve: $(VENV)/.installed
	$(BIN)/riskmodels serve --port $(PORT)

# The pipeline on synthetic worlds of growing scale: var/bench/results.{json,md}. SCALES="1 10" to shorten.
SCALES ?= 1 10 100 1000
bench: $(VENV)/.installed
	$(BIN)/python bench/pipeline_bench.py --scales $(SCALES)

# Lint first: Airflow rules (with preview) on the DAGs, a pyflakes-level set on all Python code.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check --preview --select AIR dags/
	$(BIN)/ruff check --select F,E9 dags/ riskmodels/ tests/ bench/ scripts/

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf var
