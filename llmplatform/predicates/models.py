"""Which models a tenant may call: every name in `allowed_models` must be a configured model."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from llmplatform.problems import Problem


def unknown_model_problems(tenants: Iterable[tuple[str, Sequence[str]]], models: Sequence[str]) -> list[Problem]:
    """One problem per allowed model that is not configured, at `tenants[i].allowed_models[j]`.

    `tenants` are (name, allowed model names) in configuration order; `models` the configured model
    names (not served names). The stack config, the TenantGateway and the reconciler's desired state
    all apply this one rule."""
    out: list[Problem] = []
    for i, (_tenant, allowed) in enumerate(tenants):
        for j, model in enumerate(allowed):
            if model not in models:
                out.append(Problem(f"tenants[{i}].allowed_models[{j}]", model,
                                   f"must name a configured model: {', '.join(models)}"))
    return out
