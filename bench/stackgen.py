"""Generated stack configs for the scaling benchmark: the prod stack with N tenants and M models.

The generated values satisfy the config's cross-field rules (llmplatform/config/model.py) by
sizing the bench config, never by bending the rules: the GPU pool is made large enough for every
model at max_replicas and for every tenant's gpu_quota. Files go to a temporary project folder,
never to the repository root.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "llm-platform"

GPUS_PER_NODE = 2
"""g2-standard-24 carries 2 x L4 (llmplatform/config/hardware.py)."""
MODEL_MAX_REPLICAS = 2
"""Each generated model: 1 GPU per replica, 1..2 replicas."""
TENANT_GPU_QUOTA = 1
"""Each generated tenant's nominal Kueue quota, GPUs."""
MAX_POOL_NODES = 100
"""The config's upper bound on gpu_pool.max_nodes."""


def base_config(stack: str = "prod", root: Path = ROOT) -> dict[str, Any]:
    """`Pulumi.<stack>.yaml`'s config, keys without the project prefix."""
    doc = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in doc["config"].items() if k.startswith(PROJECT + ":")}


def model_names(models: int) -> list[str]:
    return [f"bench-m{i:02d}" for i in range(models)]


def generated_models(base: list[dict[str, Any]], models: int) -> list[dict[str, Any]]:
    """`models` models cloned from the base stack's first model, with unique names and served names."""
    template = dict(base[0])
    out = []
    for name in model_names(models):
        out.append({**template, "name": name, "served_name": f"{name}-instruct", "gpus_per_replica": 1,
                    "min_replicas": 1, "max_replicas": MODEL_MAX_REPLICAS})
    return out


def generated_tenants(tenants: int, models: int) -> list[dict[str, Any]]:
    """`tenants` tenants; tenant i may call two models (i and i+1, mod `models`) so per-tenant config
    size stays the same as M grows."""
    names = model_names(models)
    out = []
    for i in range(tenants):
        allowed = sorted({names[i % models], names[(i + 1) % models]})
        out.append({"name": f"bench-t{i:03d}", "budget_usd": 100 + i, "rpm": 60, "tpm": 100000,
                    "allowed_models": allowed, "gpu_quota": TENANT_GPU_QUOTA})
    return out


def pool_nodes_needed(tenants: int, models: int) -> int:
    """Nodes for all models at max_replicas and all tenants' quotas (the two capacity rules)."""
    gpus = max(models * MODEL_MAX_REPLICAS, tenants * TENANT_GPU_QUOTA)
    return max(1, -(-gpus // GPUS_PER_NODE))


def gateway_for(cfg: dict[str, Any]) -> dict[str, Any]:
    """The base stack's `tenant_gateway` with `max_replicas` raised to what its tenants' RPM needs (the
    capacity rule, llmplatform/gateway/capacity.py): a stack generated for scale is one a forker would
    size, not one the config check refuses."""
    from llmplatform.config.model import TenantGatewaySpec
    from llmplatform.gateway.capacity import GatewayLoad, Measured, size_gateway

    gateway = dict(cfg.get("tenant_gateway") or {})
    defaults = TenantGatewaySpec.model_validate(gateway)
    floor = defaults.replicas
    load = GatewayLoad(tenant_rpm=[t["rpm"] for t in cfg["tenants"]], floor=floor,
                       max_replicas=defaults.max_replicas or floor, peak_factor=defaults.peak_factor,
                       target_cpu_utilization=defaults.target_cpu_utilization)
    needed = size_gateway(load, Measured.load()).needed_at_target
    if needed > (defaults.max_replicas or floor):
        gateway["max_replicas"] = needed
    return gateway


def scaled_config(base: dict[str, Any], *, tenants: int, models: int,
                  trust_tier: str | None = None) -> dict[str, Any]:
    """`base` with `tenants` tenants and `models` models and a GPU pool that fits them.

    `trust_tier`: None keeps the base stack's tier; `untrusted` gives every tenant its own namespace
    (more resources per tenant). Raises ValueError when the pool would need more than MAX_POOL_NODES.
    """
    nodes = pool_nodes_needed(tenants, models)
    if nodes > MAX_POOL_NODES:
        raise ValueError(f"{tenants} tenants / {models} models need {nodes} nodes; the config allows {MAX_POOL_NODES}")
    cfg = dict(base)
    cfg["gpu_pool"] = {**base["gpu_pool"], "machine_type": "g2-standard-24", "gpus_per_node": GPUS_PER_NODE,
                       "min_nodes": min(base["gpu_pool"].get("min_nodes", 0), nodes), "max_nodes": nodes}
    cfg["models"] = generated_models(base["models"], models)
    cfg["tenants"] = generated_tenants(tenants, models)
    cfg["tenant_gateway"] = gateway_for(cfg)
    if trust_tier is not None:
        cfg["trust_tier"] = trust_tier
    return cfg


def write_project(config: dict[str, Any], stack: str, root: Path = ROOT) -> Path:
    """A temporary project folder: Pulumi.yaml and __main__.py copied from `root`, plus
    `Pulumi.<stack>.yaml` with `config`. The caller removes it (shutil.rmtree)."""
    tmp = Path(tempfile.mkdtemp(prefix="llmp-bench-"))
    shutil.copy(root / "Pulumi.yaml", tmp / "Pulumi.yaml")
    shutil.copy(root / "__main__.py", tmp / "__main__.py")
    doc = {"config": {f"{PROJECT}:{k}": v for k, v in config.items()}}
    (tmp / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp
