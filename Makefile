# Run `make help` for the menu.
SHELL := /bin/bash
.DEFAULT_GOAL := help
comma := ,
space := $(subst ,, )

VENV ?= .venv
BIN := $(VENV)/bin
REQUIREMENTS := requirements.txt requirements-serve.txt requirements-dev.txt
# The Python versions the pinned requirements install on, newest first, from pyproject.toml's
# requires-python (">=3.A,<3.B"); `make lock` checks the pins against each of them.
PYTHON_VERSIONS := $(shell sed -nE 's/^requires-python = ">=3\.([0-9]+),<3\.([0-9]+)"$$/\1 \2/p' pyproject.toml \
	| { read -r low high && seq $$((high - 1)) -1 "$$low"; } | sed 's/^/3./')
# The interpreter for a new .venv: PYTHON if given (a name or a path), else the newest
# supported one on PATH.
PYTHON ?=
# uv (fast; installed into .venv from its pin in requirements-dev.txt when not on PATH) or pip.
INSTALLER ?= uv
UV_VERSION := $(shell sed -nE 's/^uv==([^ ;\\]+).*/\1/p' requirements-dev.txt)

# Telemetry off unless already set: `DVC_NO_ANALYTICS= MLFLOW_DISABLE_TELEMETRY=false GX_ANALYTICS_ENABLED=true make run`
# turns it back on.
export DVC_NO_ANALYTICS ?= 1
export MLFLOW_DISABLE_TELEMETRY ?= true
export GX_ANALYTICS_ENABLED ?= false
export PATH := $(abspath $(BIN)):$(PATH)
# Python keeps each module's compiled bytecode (in .venv and src/, git- and DVC-ignored) after its first
# import. Some images set PYTHONDONTWRITEBYTECODE=1; then every process (each stage, dvc, each test
# worker) compiles everything it imports from source again: seconds per process (docs/benchmarks.md).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help venv run serve image audit bench bench-pipeline test test-fast lint format lock mlflow-ui clean drift monitor-check monitor-up monitor-down

help: ## Show this menu
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	@set -euo pipefail; python=""; \
	for candidate in $(or $(PYTHON),$(addprefix python,$(PYTHON_VERSIONS)) python3); do \
		version=$$("$$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue; \
		case " $(PYTHON_VERSIONS) " in *" $$version "*) python=$$candidate; break;; esac; \
		echo "make venv: $$candidate is Python $$version, which the pinned requirements do not support"; \
	done; \
	if [ -z "$$python" ]; then \
		echo "make venv: no supported Python found$(if $(PYTHON), at PYTHON=$(PYTHON)). The pinned requirements" \
			"install on Python $(subst $(space),$(comma) ,$(PYTHON_VERSIONS)) (requires-python in pyproject.toml):" \
			"install one of them, or name it: make run PYTHON=/path/to/python3.X" >&2; \
		exit 1; \
	fi; \
	echo "make venv: Python $$version ($$(command -v "$$python")) -> $(VENV)"; \
	if [ "$(INSTALLER)" = uv ] && command -v uv >/dev/null; then uv venv --quiet --python "$$python" $(VENV); \
	else "$$python" -m venv $(VENV); fi

$(BIN)/.installed: $(REQUIREMENTS) pyproject.toml | $(BIN)/python
	@set -euo pipefail; \
	if [ "$(INSTALLER)" = uv ] && ! command -v uv >/dev/null; then \
		echo "make venv: installing uv $(UV_VERSION) with pip"; \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)" \
			|| echo "make venv: uv could not be installed; installing with pip instead"; \
	fi; \
	if [ "$(INSTALLER)" = uv ] && command -v uv >/dev/null; then \
		set -x; \
		uv pip install --quiet --python $(BIN)/python $(addprefix -r ,$(REQUIREMENTS)); \
		uv pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .; \
	else \
		$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --default-pip >/dev/null; \
		set -x; \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check $(addprefix -r ,$(REQUIREMENTS)); \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .; \
	fi
	@touch $@

venv: $(BIN)/.installed ## Create .venv and install the pinned requirements (done by the other targets when needed)

run: venv ## Run the whole pipeline (DVC reruns only what changed); print the primary metric, the checks, the metrics
	dvc repro
	@echo; mlops checks --show; echo; dvc metrics show

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

bench-pipeline: venv ## Time each pipeline stage on generated data of 10k, 100k and 1M rows (docs/benchmarks.md)
	python benchmarks/pipeline.py

# Tests run on one pytest-xdist worker per CPU; a folder's tests stay on one worker (tests/conftest.py).
# The folders start in name order, so the longest, tests/actions with tests/container, starts first.
PYTEST_PARALLEL = -n auto --dist loadscope --no-loadscope-reorder
# The tests that take seconds; tests/conftest.py's fast_tests_command reads both lines, so `make test-datasets`
# and benchmarks/datasets_fast_tests.py run exactly make test-fast's command on each table.
FAST_MARKERS = not slow and not container

test: venv ## Run the full test suite (and list the 20 slowest tests)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) --durations=20

test-fast: venv ## Run the tests that take seconds, not minutes
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "$(FAST_MARKERS)"

test-datasets: venv ## Run README's own-data path on six datasets end to end (long; not in make test)
	$(BIN)/python -m pytest -m datasets

lint: venv ## Check code style (ruff), repeated code and import cycles (pylint), the workflows, the Dockerfile
	ruff check .
	ruff format --check .
	pylint src/mlops
	actionlint
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	check-jsonschema --builtin-schema vendor.github-actions .github/actions/*/action.yml
	check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	zizmor --offline --quiet .github/workflows .github/actions
	@if [ -f Dockerfile ]; then hadolint Dockerfile; else echo "hadolint: no Dockerfile"; fi

audit: venv ## Scan the serving requirements for known vulnerabilities, as publish.yml does (needs the network)
	PATH="$(BIN):$$PATH" .github/scan-requirements requirements-serve.txt

format: venv ## Fix code style (ruff)
	ruff check --fix .
	ruff format .

# Pins for the oldest supported Python, with hashes (pip and uv both check them; `-e .` is
# installed by a separate command, so hash-checking never meets the unhashable local project).
LOCK := uv pip compile --quiet --no-header --generate-hashes --python-version $(lastword $(PYTHON_VERSIONS))

lock: venv ## Re-pin requirements*.txt from requirements*.in; check the pins install on every supported Python
	$(LOCK) -o requirements-serve.txt requirements-serve.in
	$(LOCK) -o requirements.txt requirements.in
	$(LOCK) -o requirements-dev.txt requirements-dev.in
	$(LOCK) -o requirements-kserve.txt requirements-kserve.in
	@set -euo pipefail; pins() { sed -nE 's/^([A-Za-z0-9._-]+==[^ ;\\]+).*/\1/p' "$$1" | sort; }; \
	for version in $(PYTHON_VERSIONS); do for platform in x86_64-manylinux_2_28 aarch64-apple-darwin; do \
		export MACOSX_DEPLOYMENT_TARGET=14.0; \
		for file in $(REQUIREMENTS); do \
			uv pip compile --quiet --no-header --python-version $$version --python-platform $$platform \
				-o $(VENV)/lock-check.txt $$file; \
			if ! diff <(pins $$file) <(pins $(VENV)/lock-check.txt) >/dev/null; then \
				echo "make lock: $$file needs other packages on Python $$version ($$platform):" >&2; \
				diff <(pins $$file) <(pins $(VENV)/lock-check.txt) >&2 || true; exit 1; \
			fi; \
		done; \
	done; done; echo "make lock: the pins install unchanged on Python $(PYTHON_VERSIONS) (Linux x86_64, macOS 14+ arm64)"

mlflow-ui: venv ## Browse runs and registered models at http://127.0.0.1:5000
	mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

# The container engine's compose: `make monitor-up COMPOSE="podman compose"` with podman.
COMPOSE ?= docker compose
MONITOR_STACK := $(COMPOSE) -f deploy/compose.yaml

drift: venv ## Check the newest production batch (params monitor.source) for drift -> reports/drift/
	mlops drift

monitor-check: venv ## Check and unit-test the Prometheus rules (promtool)
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/alerts_test.yml deploy/prometheus/tests/alerts_regression_test.yml

monitor-up: venv ## Start service + Prometheus + Grafana + MLflow (deploy/compose.yaml) after `make run`
	mlops alert-rules
	mkdir -p data/production/logs reports/drift
	$(MONITOR_STACK) up -d --build
	@echo "service http://127.0.0.1:8080  prometheus http://127.0.0.1:9090  grafana http://127.0.0.1:3000  mlflow http://127.0.0.1:5000"

monitor-down: ## Stop the monitoring stack (its data volumes are kept; add -v to drop them)
	$(MONITOR_STACK) down

clean: ## Remove the virtualenv and caches (not data, models or MLflow runs)
	rm -rf $(VENV) .pytest_cache .ruff_cache
