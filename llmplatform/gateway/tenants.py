"""Tenants as code: the desired-state document the in-cluster reconciler applies (pure functions).

The document is what changes when a tenant changes, so its hash names the reconcile Job: a new
hash is a new Job (Pulumi creates it and waits for it to finish), an unchanged one is no change at
all. Key values never enter it; the reconciler writes them straight into Secrets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from llmplatform.config.model import ModelSpec, TenantSpec
from llmplatform.gateway.litellm_config import BUDGET_DURATION
from llmplatform.predicates.models import unknown_model_problems
from llmplatform.problems import raise_problems

DESIRED_VERSION = 1


def team_id(tenant: str) -> str:
    """The LiteLLM team id of a tenant: its name, so the id (and the cache salt derived from it) is
    stable across re-creation of the team."""
    return tenant


def desired_state(
    tenants: Sequence[TenantSpec],
    models: Sequence[ModelSpec],
    *,
    served_names: Mapping[str, str],
    key_namespaces: Mapping[str, str],
    default_key_namespace: str,
    rotation: str = "",
) -> dict[str, Any]:
    """The reconciler's input: one entry per tenant with its budget, limits and allowed served names.

    key_namespaces: tenant -> namespace of its `tenant-<name>-key` Secret; others use
    `default_key_namespace`. rotation: an opaque epoch; changing it rotates every tenant's key once.
    """
    raise_problems("the tenants' desired state", unknown_model_problems(
        [(t.name, t.allowed_models) for t in tenants], [m.name for m in models]))
    out = []
    for t in tenants:
        out.append({
            "name": t.name,
            "team_id": team_id(t.name),
            "budget_usd": t.budget_usd,
            "budget_duration": BUDGET_DURATION,
            "rpm": t.rpm,
            "tpm": t.tpm,
            "models": sorted(served_names[m] for m in t.allowed_models),
            "key_namespace": key_namespaces.get(t.name, default_key_namespace),
        })
    return {"version": DESIRED_VERSION, "rotation": rotation, "tenants": sorted(out, key=lambda e: e["name"])}


def desired_json(doc: Mapping[str, Any]) -> str:
    """Canonical JSON (sorted keys, no whitespace variance): equal documents give equal text."""
    return json.dumps(doc, sort_keys=True, indent=2) + "\n"


def desired_hash(doc: Mapping[str, Any], length: int = 10) -> str:
    return hashlib.sha256(desired_json(doc).encode()).hexdigest()[:length]
