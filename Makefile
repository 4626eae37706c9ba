# Two commands on a fresh machine: `make plan` and `make test`.
STACK ?= dev
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: plan test test-deps venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## plan: create the virtualenv, install, and run the offline plan of $(STACK) (default dev).
plan: $(STAMP)
	$(BIN)/llmp plan $(STACK)

## test-deps: the isolated LiteLLM proxy venv (.venv-litellm) and checkov venv (.venv-checkov).
## Best effort: where they cannot be installed the tests that need them skip (and fail under CI=true).
test-deps: $(STAMP)
	-$(BIN)/python -m llmplatform.testing.livestack.litellm_env
	-$(BIN)/python -m llmplatform.validate.checkov_scan --ensure-only

## test: the whole suite (unit, component, policy, proofs, live LiteLLM/Postgres/Redis).
test: test-deps
	$(BIN)/python -m pytest

clean:
	rm -rf build .pytest_cache .hypothesis
