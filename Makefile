# Run `make help` for the menu.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
REQUIREMENTS := requirements.txt requirements-serve.txt requirements-dev.txt

# Telemetry off unless already set: `DVC_NO_ANALYTICS= MLFLOW_DISABLE_TELEMETRY=false GX_ANALYTICS_ENABLED=true make run`
# turns it back on.
export DVC_NO_ANALYTICS ?= 1
export MLFLOW_DISABLE_TELEMETRY ?= true
export GX_ANALYTICS_ENABLED ?= false
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help venv run serve image bench test test-fast lint format lock mlflow-ui clean drift monitor-check monitor-up monitor-down

help: ## Show this menu
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: $(REQUIREMENTS) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(addprefix -r ,$(REQUIREMENTS))
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

venv: $(BIN)/.installed ## Create .venv and install the pinned requirements (done by the other targets when needed)

run: venv ## Run the whole pipeline (DVC reruns only what changed) and print the metrics
	dvc repro
	@echo; dvc metrics show

serve: venv ## Serve the last pipeline run's model on 127.0.0.1:8080 (PORT overrides; docs/serving.md)
	gunicorn -c python:mlops.serving.gunicorn_conf

# The serving image, built with Docker where a Docker engine answers, else with podman:
# `make image CONTAINER_ENGINE=podman` chooses. The base is pulled as the Dockerfile names it.
IMAGE ?= mlops-template-serving
CONTAINER_ENGINE ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo podman)

image: venv ## Build the serving image with the current model: mlops-template-serving:latest (docs/container.md)
	dvc repro
	@set -euo pipefail; \
	version=$$(python -c 'import json; print(json.load(open("models/metadata.json"))["version"])'); \
	set -x; \
	$(CONTAINER_ENGINE) build \
		--build-arg "SOURCE_URL=$$(git remote get-url origin 2>/dev/null || echo unknown)" \
		--build-arg "GIT_COMMIT=$$(git rev-parse HEAD)" --build-arg "MODEL_VERSION=$$version" \
		--build-arg "CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ)" -t "$(IMAGE):latest" -t "$(IMAGE):$$version" .; \
	{ set +x; } 2>/dev/null; \
	size=$$($(CONTAINER_ENGINE) image inspect --format '{{.Size}}' "$(IMAGE):latest"); \
	echo "$(IMAGE):$$version built with $(CONTAINER_ENGINE): $$((size / 1000000)) MB"

bench: venv ## Benchmark the service against mlflow models serve and a naive Flask app (docs/benchmarks.md)
	dvc repro
	python benchmarks/serving/bench.py

test: venv ## Run the full test suite
	$(BIN)/python -m pytest

test-fast: venv ## Run the tests that take seconds, not minutes
	$(BIN)/python -m pytest -m "not slow and not container"

lint: venv ## Check code style (ruff), repeated code and import cycles (pylint), the workflows, the Dockerfile
	ruff check .
	ruff format --check .
	pylint src/mlops
	actionlint
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	zizmor --offline --quiet .github/workflows
	@if [ -f Dockerfile ]; then hadolint Dockerfile; else echo "hadolint: no Dockerfile"; fi

format: venv ## Fix code style (ruff)
	ruff check --fix .
	ruff format .

lock: venv ## Re-pin requirements*.txt from requirements*.in
	pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras --no-header -o requirements-serve.txt requirements-serve.in
	pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras --no-header -o requirements.txt requirements.in
	pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras --no-header -o requirements-dev.txt requirements-dev.in
	pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras --no-header -o requirements-kserve.txt requirements-kserve.in

mlflow-ui: venv ## Browse runs and registered models at http://127.0.0.1:5000
	mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

# The container engine's compose: `make monitor-up COMPOSE="podman compose"` with podman.
COMPOSE ?= docker compose
MONITOR_STACK := $(COMPOSE) -f deploy/compose.yaml

drift: venv ## Check the newest production batch (params monitor.source) for drift -> reports/drift/
	mlops drift

monitor-check: venv ## Check and unit-test the Prometheus rules (promtool)
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.yml

monitor-up: venv ## Start service + Prometheus + Grafana + MLflow (deploy/compose.yaml) after `make run`
	mlops alert-rules
	mkdir -p data/production/logs reports/drift
	$(MONITOR_STACK) up -d --build
	@echo "service http://127.0.0.1:8080  prometheus http://127.0.0.1:9090  grafana http://127.0.0.1:3000  mlflow http://127.0.0.1:5000"

monitor-down: ## Stop the monitoring stack (its data volumes are kept; add -v to drop them)
	$(MONITOR_STACK) down

clean: ## Remove the virtualenv and caches (not data, models or MLflow runs)
	rm -rf $(VENV) .pytest_cache .ruff_cache
