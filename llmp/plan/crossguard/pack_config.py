"""The pack, its config file and the stack's config, resolved the way the Pulumi CLI resolves them.

The CLI reads `--policy-pack-config <file>` (policy name -> enforcement level, or an object with
`enforcementLevel` and config properties; `all` sets every policy's level), merges it with each
policy's defaults from `GetAnalyzerInfo`, and sends every policy an explicit enforcement level in
`Configure`. Both runners use `resolve()` so they configure the pack identically. A level must be
explicit: the analyzer treats a config entry without one as advisory.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from llmp.paths import PROJECT_ROOT

PACK_DIR = PROJECT_ROOT / "policy"
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_RULES_MODULE = "llmplatform_policy_pack_rules"


class PackConfigError(ValueError):
    """The pack config file names an unknown policy, an unknown level or a property the policy does not take."""


@dataclass(frozen=True)
class PolicySummary:
    """What GetAnalyzerInfo says about one policy."""

    name: str
    description: str
    enforcement_level: str
    kind: str
    """`resource` or `stack`."""
    schema_properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicySettings:
    enforcement_level: str
    properties: Mapping[str, Any]


def load_rules(pack_dir: Path = PACK_DIR) -> ModuleType:
    """Import `<pack_dir>/rules` (the pack's policies) without running the pack's `__main__.py`."""
    init = pack_dir / "rules" / "__init__.py"
    loaded = sys.modules.get(_RULES_MODULE)
    if loaded is not None and Path(loaded.__file__ or "").resolve() == init.resolve():
        return loaded
    spec = importlib.util.spec_from_file_location(_RULES_MODULE, init, submodule_search_locations=[str(init.parent)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_RULES_MODULE] = module
    spec.loader.exec_module(module)
    return module


def summaries_of(policies: Sequence[Any], pack_default: str) -> list[PolicySummary]:
    """PolicySummary for in-process Policy objects (what GetAnalyzerInfo would report)."""
    from pulumi_policy import ResourceValidationPolicy

    out = []
    for p in policies:
        level = p.enforcement_level.value if p.enforcement_level is not None else pack_default
        props = dict(p.config_schema.properties) if p.config_schema is not None else {}
        out.append(PolicySummary(p.name, p.description, level,
                                 "resource" if isinstance(p, ResourceValidationPolicy) else "stack", props))
    return out


def read_config_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    doc = json.loads(Path(path).read_text())
    if not isinstance(doc, dict):
        raise PackConfigError(f"{path}: must be a JSON object of policy name -> level or settings")
    return doc


def resolve(summaries: Sequence[PolicySummary], config: Mapping[str, Any]) -> dict[str, PolicySettings]:
    """Every policy's explicit level and properties: its config entry, else `all`, else its own default."""
    known = {s.name: s for s in summaries}
    problems = [f"unknown policy {name!r}" for name in config if name != "all" and name not in known]

    def level_of(entry: Any, where: str) -> str | None:
        level = entry if isinstance(entry, str) else (entry or {}).get("enforcementLevel")
        if level is not None and level not in LEVELS:
            problems.append(f"{where}: enforcementLevel {level!r} is not one of {', '.join(LEVELS)}")
            return None
        return level

    all_level = level_of(config.get("all"), "all")
    out: dict[str, PolicySettings] = {}
    for s in summaries:
        entry = config.get(s.name)
        props = {k: v["default"] for k, v in s.schema_properties.items() if isinstance(v, Mapping) and "default" in v}
        if isinstance(entry, Mapping):
            for key, value in entry.items():
                if key == "enforcementLevel":
                    continue
                if key not in s.schema_properties:
                    problems.append(f"{s.name}: property {key!r} is not in its config schema "
                                    f"({', '.join(s.schema_properties) or 'none'})")
                    continue
                allowed = s.schema_properties[key].get("enum")
                if allowed and value not in allowed:
                    problems.append(f"{s.name}: {key}={value!r} is not one of {allowed}")
                props[key] = value
        level = level_of(entry, s.name) or all_level or s.enforcement_level
        out[s.name] = PolicySettings(level, props)
    if problems:
        raise PackConfigError("policy pack config is invalid: " + "; ".join(problems))
    return out


def stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """`Pulumi.<stack>.yaml` as the CLI passes it to a policy pack (PULUMI_CONFIG): `project:key` -> string."""
    from llmp.plan.runner import stack_config as read

    return read(project_dir, stack)


def config_file_for(stack: str, profile: str | None, pack_dir: Path = PACK_DIR) -> Path:
    """The pack config for a stack: `config/<stack>.json`, else `config/<profile>.json`, else prod's."""
    for name in (stack, profile):
        if name and (pack_dir / "config" / f"{name}.json").exists():
            return pack_dir / "config" / f"{name}.json"
    return pack_dir / "config" / "prod.json"
