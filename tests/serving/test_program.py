"""The real program renders any number of models: dev with 2 and prod with 4, no per-model code.

Runs `__main__.py` under the offline plan's mocks with the stack files' `models`, `tenants` and
`gpu_pool` replaced, and counts what the plan would write into build/<stack>/manifests/.
"""

from __future__ import annotations

from collections import Counter

import pytest

from llmp.plan.render import manifests
from llmp.plan.runner import run_program
from tests.support.gates import REPO_ROOT
from tests.serving.conftest import CONFIGS, MODEL_COUNTS

PER_MODEL = ("InferencePool", "ScaledObject", "HTTPRoute")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_program_renders_every_configured_model_without_hand_written_per_model_code(stack):
    raw = CONFIGS[stack]
    run = run_program(REPO_ROOT, stack, config_override={k: raw[k] for k in ("models", "tenants", "gpu_pool")})
    docs = manifests(run)
    kinds = Counter(d["kind"] for d in docs)
    n = MODEL_COUNTS[stack]
    for kind in PER_MODEL:
        assert kinds[kind] == n, kind
    servers = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].startswith("vllm-")]
    assert sorted(d["metadata"]["name"] for d in servers) == sorted(f"vllm-{m['name']}" for m in raw["models"])
    assert run.outputs["inferenceGatewayUrl"].startswith("http://inference-gateway-istio.llm-gateway")
    assert set(run.outputs["servedModels"]) == {m["name"] for m in raw["models"]}
