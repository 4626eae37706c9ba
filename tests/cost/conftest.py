"""A small config and a small fixed pricing table with round prices, for hand-checkable estimates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from llmplatform.config import PlatformConfig, load_platform_config
from llmp.cost.pricing import PricingTable

SMALL_RAW: dict[str, Any] = {
    "profile": "dev",
    "trust_tier": "trusted",
    "substrate": {"kind": "gke", "project": "acme-cost-test", "region": "us-central1", "zones": ["us-central1-a"],
                  "system_machine_type": "e2-standard-2", "system_nodes_per_zone": 1, "deletion_protection": False},
    "gpu_pool": {"accelerator": "nvidia-l4", "machine_type": "g2-standard-8", "gpus_per_node": 1,
                 "min_nodes": 0, "max_nodes": 2, "spot": True, "disk_size_gb": 200},
    "models": [{"name": "m", "hf_id": "org/m", "revision": "0" * 40, "served_name": "m",
                "min_replicas": 0, "max_replicas": 2}],
    "tenants": [{"name": "t", "budget_usd": 10, "rpm": 1, "tpm": 1, "allowed_models": ["m"], "gpu_quota": 1}],
    "tenant_gateway": {"postgres_instances": 1, "postgres_storage_gb": 10},
}

SMALL_TABLE_RAW: dict[str, Any] = {
    "read_on": "2000-01-01",
    "currency": "USD",
    "hours_per_month": 730,
    "sources": {"test": {"url": "https://example.invalid/prices", "read_on": "2000-01-01", "what": "made up"}},
    "gke": {
        "cluster_fee": {"usd_per_hour": 0.10, "source": "test", "confirmed": True},
        "free_tier": {"monthly_credit_usd": 74.40, "applies_to": ["zonal", "autopilot"], "source": "test",
                      "confirmed": True},
    },
    "regions": {"us-central1": {
        "machines": {
            "e2-standard-2": {"on_demand": 0.05, "spot": 0.02, "source": "test", "confirmed": True},
            "g2-standard-8": {"on_demand": 0.30, "spot": 0.12, "source": "test", "confirmed": True},
        },
        "gpus": {"nvidia-l4": {"on_demand": 0.50, "spot": 0.20, "source": "test", "confirmed": True}},
        "disks": {
            "pd-balanced": {"usd_per_gb_month": 0.10, "source": "test", "confirmed": True},
            "pd-ssd": {"usd_per_gb_month": 0.20, "source": "test", "confirmed": False, "reason": "made up too"},
        },
    }},
}


def small_config(**overrides: Any) -> PlatformConfig:
    """SMALL_RAW with top-level blocks shallow-merged from `overrides` (e.g. gpu_pool={"max_nodes": 3})."""
    raw = copy.deepcopy(SMALL_RAW)
    for key, value in overrides.items():
        raw[key] = {**raw[key], **value} if isinstance(value, dict) else value
    return load_platform_config(raw)


@pytest.fixture
def small_table() -> PricingTable:
    return PricingTable.model_validate(SMALL_TABLE_RAW)
