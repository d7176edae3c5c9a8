# Every command goes through here; CI calls only `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
BIN := $(VENV)/bin
# sam build needs a python3.12 for the python3.12 runtime; pyenv machines have one.
export PYENV_VERSION ?= 3.11.7:3.12.1
# The console's browser test drives Debian's chromium; Playwright never downloads a browser of its own.
BROWSER := /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: dev test lint format validate unit e2e bench openapi build deploy destroy clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian's chromium for the console's browser test (tests/e2e/test_console.py), installed when missing.
$(BROWSER):
	$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y -qq chromium

# aws-sam-cli pins boto3 and pydantic, so it and cfn-lint live in their own environment.
$(TOOLS)/.installed:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet 'aws-sam-cli>=1.120' 'cfn-lint>=1.20'
	touch $@

dev: $(VENV)/.installed  ## start the local stack on http://127.0.0.1:$${PORT:-3000}
	$(BIN)/jobs dev

test: lint validate $(BROWSER)  ## lint, template checks and every test (the CLI's, and the console's in chromium)
	$(BIN)/pytest -n 2 --dist loadgroup

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@for fn in functions/*/; do echo "mypy $$fn"; MYPYPATH=layers/core/python:$$fn $(BIN)/mypy $$fn || exit 1; done
	$(BIN)/mypy layers/core/python/jobs_core

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

validate: $(VENV)/.installed $(TOOLS)/.installed  ## cfn-lint, sam validate, and the state machine definitions
	$(TOOLS)/bin/cfn-lint template.yaml
	AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x $(TOOLS)/bin/sam validate --template template.yaml
	$(TOOLS)/bin/sam validate --lint --template template.yaml
	$(BIN)/pytest -q tests/unit/test_template.py

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit

e2e: $(VENV)/.installed $(BROWSER)
	$(BIN)/pytest tests/e2e

bench: $(VENV)/.installed  ## benchmarks; figures are ratios against a baseline measured in the same run
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/aws_calls.py
	$(BIN)/python bench/publisher.py
	$(BIN)/python bench/records_insert.py
	$(BIN)/python bench/records_page.py
	$(BIN)/python bench/extract_throughput.py
	$(BIN)/python bench/system_job_memory.py
	$(BIN)/python bench/system_job_costs.py
	$(BIN)/python bench/plan_compute.py
	$(BIN)/python bench/map_throughput.py
	$(BIN)/python bench/mutate_throughput.py

openapi: $(VENV)/.installed  ## regenerate the committed openapi.json from the code
	$(BIN)/python -m jobs_local.openapi > openapi.json

build: $(TOOLS)/.installed
	$(TOOLS)/bin/sam build

deploy: build
	$(TOOLS)/bin/sam deploy

destroy: $(TOOLS)/.installed
	$(TOOLS)/bin/sam delete

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache
