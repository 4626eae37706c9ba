"""The llm-platform CrossGuard rules, importable without side effects (no PolicyPack is built here).

`policy/__main__.py` builds the pack from `ALL_POLICIES`; `llmp.plan.crossguard` runs the same
objects in-process. The GovernancePack component renders the controls; this pack checks them.

Every module here but `common` is a rule file exporting `POLICIES`; `ALL_POLICIES` takes them in the
order of the control registry (`llmplatform.controls.registry.policy_names()`), and refuses a policy the
registry does not name or a name no rule file defines, so the pack, its configs and the registry agree.
"""

from __future__ import annotations

import importlib
import pkgutil

from llmplatform.controls import registry

from .common import default_enforcement_level

PACK_NAME = "llm-platform"


def _all_policies() -> list:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name != "common":
            for policy in importlib.import_module(f".{info.name}", __name__).POLICIES:
                found[policy.name] = policy
    names = registry.policy_names()
    unknown, missing = sorted(set(found) - set(names)), sorted(set(names) - set(found))
    if unknown or missing:
        raise ImportError(f"policy/rules and llmplatform/controls/registry.py disagree: policies no control names "
                          f"{unknown}, policies the registry names that no rule file defines {missing}")
    return [found[name] for name in names]


ALL_POLICIES = _all_policies()
"""Every policy of the pack, in report order (the registry's)."""

__all__ = ["ALL_POLICIES", "PACK_NAME", "default_enforcement_level"]
