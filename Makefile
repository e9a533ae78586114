# rnnlab — `make pipeline` runs the whole comparison; `make test` runs the tests.
# Both build the project's virtual environment (.venv) on first use from requirements.lock.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(CURDIR)/$(VENV)/bin/python
STAMP := $(VENV)/.installed

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION := false
export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1

DATASET ?= japanese_vowels
PREFECT_URL = $$($(PY) -m rnnlab.services url prefect)

LINTED := src flows tests benchmarks

.PHONY: help venv pipeline test lint format tune ui ui-check prefect-ui schedule serve experiment stop bench docs push pull

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

venv: $(STAMP) ## build the virtual environment (pinned versions)

pipeline: $(STAMP) ## run the whole pipeline (DVC -> Prefect -> Lightning -> MLflow); reruns only stale stages
	$(PY) -m rnnlab.services start prefect
	PREFECT_API_URL=$(PREFECT_URL)/api $(PY) -m rnnlab.lock "make pipeline" -- $(SHELL) -c '$(PY) -m rnnlab.cli plan && dvc repro'
	@echo "leaderboard: reports/leaderboard.md   runs: make ui   flows: make prefect-ui"

tune: $(STAMP) ## tune every pipeline pair on its validation split (make tune DATASETS="a b" for some); reports/tuning.md
	$(PY) -m rnnlab.services start prefect
	PREFECT_API_URL=$(PREFECT_URL)/api $(PY) -m rnnlab.cli tune $(foreach d,$(DATASETS),--dataset $(d))

# pytest-xdist processes; each takes whole files, the longest first (tests/conftest.py); the 25 slowest are listed
TEST_WORKERS ?= 2
test: $(STAMP) ## run the test suite on TEST_WORKERS processes (it runs the linter too: tests/test_lint.py)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

lint: $(STAMP) ## ruff: lint and formatting of src, flows, tests and benchmarks (make format rewrites them)
	$(VENV)/bin/ruff check $(LINTED) && $(VENV)/bin/ruff format --check $(LINTED)

format: $(STAMP) ## ruff: format and fix what it can
	$(VENV)/bin/ruff check --fix $(LINTED) && $(VENV)/bin/ruff format $(LINTED)

ui: $(STAMP) ## serve the MLflow UI on 127.0.0.1:5000 (make stop ends it)
	$(PY) -m rnnlab.services start mlflow
	@echo "MLflow UI: $$($(PY) -m rnnlab.services view mlflow)"

prefect-ui: $(STAMP) ## start the Prefect server if needed and print its UI address
	$(PY) -m rnnlab.services start prefect
	@echo "Prefect UI: $(PREFECT_URL)"

schedule: $(STAMP) ## serve the retrain flow on the cron in params.yaml (starts the Prefect server if needed)
	$(PY) -m rnnlab.services start prefect scheduler
	@echo "retraining scheduled (schedule.cron in params.yaml); runs and decisions: $(PREFECT_URL)"

serve: $(STAMP) ## serve the champion version of rnnlab-$(DATASET) over HTTP on 127.0.0.1:5001 (make serve DATASET=name)
	DATASET=$(DATASET) $(PY) -m rnnlab.services start serve
	@echo "POST a canonical sequence table to http://127.0.0.1:$${RNNLAB_SERVE_PORT:-5001}/invocations (see docs/pipeline.md)"

experiment: $(STAMP) ## run a study of params.yaml's experiments section (make experiment NAME=copy_memory)
	@test -n "$(NAME)" || { echo "make experiment NAME=<study>: one of the experiments in params.yaml"; exit 2; }
	$(PY) -m rnnlab.cli experiment $(NAME)

stop: ## stop every server that make started (by recorded pid)
	@test -x $(PY) && $(PY) -m rnnlab.services stop || true

ui-check: $(STAMP) ## open the MLflow UI in headless Chromium (Debian's chromium): it must open on training runs; screenshots in docs/
	$(PY) benchmarks/ui_check.py

bench: $(STAMP) ## run the benchmarks; results in reports/benchmarks.md
	$(PY) benchmarks/recurrent_throughput.py

docs: $(STAMP) ## regenerate the architecture and dataset tables in docs/ from the registries
	$(PY) -m rnnlab.doc_tables

push: $(STAMP) ## push DVC-tracked data and models to the DVC remote
	dvc push

pull: $(STAMP) ## pull DVC-tracked data and models from the DVC remote
	dvc pull
