"""Stack configs for the governance tests, built with the program's own loader, one per trust tier.

Written out here (not read from Pulumi.<stack>.yaml) so the assertions hold for known tenants and
tiers whatever the stack files say.
"""

from __future__ import annotations

import copy
from typing import Any

from llmplatform.config import PlatformConfig, load_platform_config
from substrates.capabilities import SubstrateCapabilities
from substrates.gke import gke_capabilities

REV = "989aa7980e4cf806f80c7fef2b1adb7bc71aa306"

BASE: dict[str, Any] = {
    "profile": "dev",
    "trust_tier": "trusted",
    "substrate": {"kind": "gke", "project": "acme-llm-dev", "region": "us-central1", "zones": ["us-central1-a"]},
    "gpu_pool": {"accelerator": "nvidia-l4", "machine_type": "g2-standard-8", "gpus_per_node": 1,
                 "min_nodes": 0, "max_nodes": 3},
    "models": [{"name": "qwen-1-5b", "hf_id": "Qwen/Qwen2.5-1.5B-Instruct", "revision": REV,
                "served_name": "qwen2.5-1.5b-instruct"}],
    "tenants": [
        {"name": "search", "budget_usd": 50, "rpm": 60, "tpm": 100000, "allowed_models": ["qwen-1-5b"],
         "gpu_quota": 1},
        {"name": "support", "budget_usd": 20, "rpm": 30, "tpm": 50000, "allowed_models": ["qwen-1-5b"]},
    ],
}

PROD_GATEWAY = {"replicas": 3, "redis": True, "postgres_instances": 3, "key_cache_ttl_seconds": 10,
                "backup_bucket": "gs://acme-budget-backups"}


def stack_config(tier: str = "trusted", profile: str = "dev", **overrides: Any) -> PlatformConfig:
    """A validated config for `tier` and `profile` (prod gets an SR3-compliant tenant gateway)."""
    raw = copy.deepcopy(BASE)
    raw.update(trust_tier=tier, profile=profile)
    if profile == "prod":
        raw["tenant_gateway"] = dict(PROD_GATEWAY)
    raw.update(overrides)
    return load_platform_config(raw)


def capabilities(cfg: PlatformConfig, **overrides: Any) -> SubstrateCapabilities:
    import dataclasses

    return dataclasses.replace(gke_capabilities(cfg.gpu_pool), **overrides)
