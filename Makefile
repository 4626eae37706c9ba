# Two commands on a fresh machine: `make plan` and `make test`.
STACK ?= dev
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: plan test venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## plan: create the virtualenv, install, and run the offline plan of $(STACK) (default dev).
plan: $(STAMP)
	$(BIN)/llmp plan $(STACK)

## test: the whole suite (unit, component, policy, proofs, live LiteLLM/Postgres/Redis).
test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf build .pytest_cache .hypothesis
