"""Configs for the serving tests, built with the program's own loader: dev with 2 models, prod with 4.

Both are written out here (not read from Pulumi.<stack>.yaml) so the per-model assertions hold for a
known model count whatever the stack files say; the models differ in replicas and GPUs on purpose.
"""

from __future__ import annotations

from typing import Any

import pytest

from llmplatform.config import PlatformConfig, load_platform_config
from substrates.capabilities import GpuTaint, SubstrateCapabilities
from substrates.gke import gke_capabilities

REV = "989aa7980e4cf806f80c7fef2b1adb7bc71aa306"


def _model(name: str, served: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "hf_id": f"Org/{name}", "revision": REV, "served_name": served, **kw}


DEV: dict[str, Any] = {
    "profile": "dev",
    "trust_tier": "trusted",
    "substrate": {"kind": "gke", "project": "acme-llm-dev", "region": "us-central1", "zones": ["us-central1-a"]},
    "gpu_pool": {"accelerator": "nvidia-l4", "machine_type": "g2-standard-8", "gpus_per_node": 1,
                 "min_nodes": 0, "max_nodes": 2, "spot": True},
    "models": [
        _model("qwen-1-5b", "qwen2.5-1.5b-instruct", max_num_seqs=64),
        _model("phi-mini", "phi-3.5-mini", max_num_seqs=32,
               autoscaling={"running_ratio": 0.6, "kv_cache_usage": 0.7, "waiting_requests": 2,
                            "cooldown_seconds": 300, "polling_seconds": 10}),
    ],
    "tenants": [
        {"name": "search", "budget_usd": 50, "rpm": 60, "tpm": 100000, "allowed_models": ["qwen-1-5b"], "gpu_quota": 1},
        {"name": "support", "budget_usd": 20, "rpm": 30, "tpm": 50000, "allowed_models": ["phi-mini"]},
    ],
}

PROD: dict[str, Any] = {
    "profile": "prod",
    "trust_tier": "untrusted",
    "substrate": {"kind": "gke", "project": "acme-llm-prod", "region": "us-central1",
                  "zones": ["us-central1-a", "us-central1-b"]},
    "gpu_pool": {"accelerator": "nvidia-l4", "machine_type": "g2-standard-24", "gpus_per_node": 2,
                 "min_nodes": 2, "max_nodes": 8},
    "models": [
        _model("qwen-7b", "qwen2.5-7b-instruct", max_num_seqs=128, min_replicas=2, max_replicas=4),
        _model("mistral-7b", "mistral-7b-instruct-v0.3", max_num_seqs=128, min_replicas=1, max_replicas=3),
        _model("qwen-1-5b", "qwen2.5-1.5b-instruct", max_num_seqs=256, min_replicas=1, max_replicas=2),
        _model("llama-70b", "llama-3.3-70b-instruct", gpus_per_replica=2, min_replicas=0, max_replicas=2,
               max_model_len=32768),
    ],
    "tenants": [
        {"name": "search", "budget_usd": 5000, "rpm": 600, "tpm": 2000000, "allowed_models": ["qwen-7b"],
         "gpu_quota": 4},
        {"name": "support", "budget_usd": 2000, "rpm": 300, "tpm": 1000000, "allowed_models": ["mistral-7b"],
         "gpu_quota": 3},
        {"name": "labs", "budget_usd": 300, "rpm": 60, "tpm": 200000, "allowed_models": ["qwen-1-5b"]},
    ],
    "tenant_gateway": {"replicas": 3, "redis": True, "postgres_instances": 3,
                       "backup_bucket": "gs://acme-llm-prod-backups", "key_cache_ttl_seconds": 10},
}

CONFIGS = {"dev": DEV, "prod": PROD}
MODEL_COUNTS = {"dev": 2, "prod": 4}


def platform_config(stack: str) -> PlatformConfig:
    return load_platform_config(CONFIGS[stack], source=f"serving test {stack}")


def capabilities(cfg: PlatformConfig) -> SubstrateCapabilities:
    return gke_capabilities(cfg.gpu_pool)


K3S_CAPS = SubstrateCapabilities(
    display_name="k3s on Vast",
    gpus_per_node=2,
    gpu_product_label_key="nvidia.com/gpu.product",
    gpu_product_label_values=("NVIDIA-GeForce-RTX-4090-SHARED",),
    gpu_taint=None,
    runtime_class_name="nvidia",
    gpu_time_slicing_replicas=2,
    storage_class="local-path",
    load_balancer_available=False,
)
"""What a k3s substrate with time-slicing would hand over: another label, no taint, a RuntimeClass."""

GKE_TAINT = GpuTaint("nvidia.com/gpu", "present")


@pytest.fixture(params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> str:
    return request.param
