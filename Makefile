# Two commands on a fresh machine: `make plan` and `make test`.
STACK ?= dev
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: plan test test-deps venv clean bench bench-docs bench-plan-overhead bench-plan-scaling bench-plan-verify bench-gateway-hop bench-make-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[tools,test]'
	touch $(STAMP)

venv: $(STAMP)

## plan: create the virtualenv, install, and run the offline plan of $(STACK) (default dev).
plan: $(STAMP)
	$(BIN)/llmp plan $(STACK)

## test-deps: the isolated LiteLLM proxy venv (.venv-litellm) and checkov venv (.venv-checkov).
## Best effort: where they cannot be installed the tests that need them skip (and fail under CI=true).
test-deps: $(STAMP)
	-$(BIN)/python -m tests.support.livestack.litellm_env
	-$(BIN)/python -m llmp.verify.manifests.checkov_scan --ensure-only

## test: the whole suite (unit, component, policy, proofs, live LiteLLM/Postgres/Redis), on
## TEST_WORKERS pytest-xdist workers (default 2): the live tests run in order on one of them (xdist
## group `live`, one Postgres and Redis), the offline tests on the others and in the live tests'
## waits. TEST_WORKERS=0 runs everything in this process, one test at a time. The 20 slowest tests are
## listed at the end (where a speed-up would pay).
TEST_WORKERS ?= 2
test: test-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=20

## bench: every benchmark (a few minutes on a quiet machine), then docs/benchmarks.md. Not part of `make test`.
bench: $(STAMP)
	$(MAKE) bench-plan-overhead bench-plan-scaling bench-plan-verify bench-gateway-hop
	$(MAKE) bench-docs

## bench-plan-overhead: `llmp plan` vs the Pulumi SDK's bare mock registration of the same resources.
bench-plan-overhead: $(STAMP)
	$(BIN)/python bench/plan_overhead.py

## bench-plan-scaling: plan time and peak memory for 1-200 tenants and 1-20 models, with linear fits.
bench-plan-scaling: $(STAMP)
	$(BIN)/python bench/plan_scaling.py

## bench-plan-verify: wall time of `llmp plan` + `llmp verify` for dev and prod.
bench-plan-verify: $(STAMP)
	$(BIN)/python bench/plan_verify.py

## bench-gateway-hop: latency added by the LiteLLM tenant gateway (needs the live-test dependencies).
bench-gateway-hop: $(STAMP)
	$(BIN)/python bench/gateway_hop.py

## bench-make-test: the whole suite as `make test` runs it, with per-test wall and CPU seconds (not part of `make bench`).
bench-make-test: test-deps
	$(BIN)/python bench/make_test.py

## bench-docs: render docs/benchmarks.md from bench/results/*.json.
bench-docs: $(STAMP)
	$(BIN)/python bench/render_docs.py

clean:
	rm -rf build .pytest_cache .hypothesis

include Makefile.checkov Makefile.live
