"""What every rule needs: plain objects from policy props, the stack's profile, and the ControlPlan's word.

Props arrive as `pulumi_policy` proxies (read-only Mappings that raise on preview-unknown values).
`plain()` turns them into dicts and lists; an unknown value becomes None, so a rule treats it like a
missing property (not applicable). `pulumi up` runs the pack again with every value known, so a
mandatory rule still blocks there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyConfigSchema
from pulumi_policy.proxy import _is_unknown

from llmplatform import labels, naming

PROJECT = "llm-platform"
PROFILES = ("dev", "prod")
STRICT_PROFILE = "prod"

PROFILE_SCHEMA = PolicyConfigSchema(properties={
    "profile": {
        "type": "string",
        "enum": list(PROFILES),
        "description": "Pins the requirements to a profile (prod: fail closed, controls never dormant). "
                       "Unset: the stack's own llm-platform:profile, else prod.",
    },
})


def plain(value: Any) -> Any:
    """Policy props (proxies, Mappings, Sequences) as plain dicts/lists; preview-unknown values as None."""
    if type(value).__name__ in ("_DictProxy", "_ListProxy"):
        # The proxies expose their target under "__target"; reading through it never raises on unknowns.
        value = value["__target"]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    if isinstance(value, str) and _is_unknown(value):
        return None
    return value


def k8s_object(resource_type: str, props: Any) -> dict[str, Any] | None:
    """The Kubernetes object a resource would apply, or None for non-Kubernetes resources.

    apiVersion/kind come from the inputs, else from the type token (`kubernetes:apps/v1:Deployment`);
    Helm releases, yaml/kustomize components and providers are not objects.
    """
    if not resource_type.startswith("kubernetes:") or resource_type.startswith(
            ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")):
        return None
    obj = plain(props)
    if not isinstance(obj, dict):
        return None
    if not obj.get("kind") or not obj.get("apiVersion"):
        parts = resource_type.split(":")
        if len(parts) != 3 or parts[1] == "apiextensions.k8s.io":
            return None
        group, _, version = parts[1].rpartition("/")
        obj["apiVersion"] = version if group in ("core", "") else f"{group}/{version}"
        obj["kind"] = parts[2]
    return obj


def is_kind(obj: Mapping[str, Any] | None, kind: str, group: str | None = None) -> bool:
    if not obj or obj.get("kind") != kind:
        return False
    if group is None:
        return True
    api_version = str(obj.get("apiVersion") or "")
    return (api_version.rpartition("/")[0] if "/" in api_version else "") == group


def stack_config(key: str) -> str | None:
    """A value of the stack's own config (the CLI hands it to the pack as PULUMI_CONFIG)."""
    import pulumi.runtime

    value = pulumi.runtime.get_config(f"{PROJECT}:{key}")
    return value if isinstance(value, str) else None


def profile(config: Mapping[str, Any] | None) -> str:
    """The profile a rule holds the stack to: the pack config's pin, else the stack's, else the strict one."""
    pinned = (config or {}).get("profile")
    if pinned in PROFILES:
        return str(pinned)
    own = stack_config("profile")
    return own if own in PROFILES else STRICT_PROFILE


def default_enforcement_level() -> EnforcementLevel:
    """The pack's level when no pack config says otherwise: mandatory on a prod stack, advisory elsewhere."""
    return EnforcementLevel.MANDATORY if stack_config("profile") == "prod" else EnforcementLevel.ADVISORY


# ---------------------------------------------------------------- the ControlPlan

DORMANT, AUDIT, ENFORCED = "dormant", "audit", "enforced"
_STATE_WORDS = {
    DORMANT: ("dormant", "off", "disabled", "none", "not-applied", "inactive"),
    AUDIT: ("audit", "advisory", "warn", "report"),
    ENFORCED: ("enforce", "enforced", "enforcing", "deny", "mandatory", "on", "active"),
}
_TIER_STATES = {"trusted": {"sr1-network": DORMANT, "sr1-identity": DORMANT, "sr2-gpu-admission": AUDIT}}
"""What the trust tiers mean when no ControlPlan says so (docs/trust-tiers.md): trusted keeps SR1 off
and SR2 in audit; multi-team and untrusted enforce both."""
SR1_NETWORK, SR1_IDENTITY, SR2_ADMISSION = "sr1-network", "sr1-identity", "sr2-gpu-admission"
"""Control keys of the ControlPlan (`controls[].control`, llmplatform.controls.tiers)."""


def _state_word(value: Any) -> str | None:
    if isinstance(value, bool):
        return ENFORCED if value else DORMANT
    if isinstance(value, str):
        word = value.strip().lower()
        return next((state for state, words in _STATE_WORDS.items() if word in words), None)
    if isinstance(value, Mapping):
        for key in ("state", "status", "mode", "enforcement", "enforcementLevel", "action"):
            if key in value:
                found = _state_word(value[key])
                if found:
                    return found
    return None


def control_plans(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ControlPlan documents (JSON with `controls`) GovernancePack renders into a serving-namespace ConfigMap."""
    out = []
    for obj in objects:
        if not is_kind(obj, "ConfigMap") or (obj.get("metadata") or {}).get("namespace") != naming.NS_SERVING:
            continue
        for value in (obj.get("data") or {}).values():
            if isinstance(value, str) and value.lstrip().startswith("{"):
                try:
                    doc = json.loads(value)
                except ValueError:
                    continue
                if isinstance(doc, dict) and "controls" in doc:
                    out.append(doc)
    return out


def _find_control(doc: Mapping[str, Any], control: str) -> Any:
    """`controls` as a list of {control: key, state, reason} (or a mapping key -> entry)."""
    controls = doc.get("controls")
    if isinstance(controls, Mapping):
        return controls.get(control)
    for item in controls or ():
        if isinstance(item, Mapping) and control in (item.get("control"), item.get("name"), item.get("id")):
            return item
    return None


def trust_tier(objects: Sequence[Mapping[str, Any]]) -> str | None:
    """The trust tier: the ControlPlan's, else the label on the platform's namespaces, else the stack's config."""
    for doc in control_plans(objects):
        if isinstance(doc.get("trustTier"), str):
            return doc["trustTier"]
    for obj in objects:
        if is_kind(obj, "Namespace"):
            tier = ((obj.get("metadata") or {}).get("labels") or {}).get(labels.TRUST_TIER)
            if tier:
                return str(tier)
    return stack_config("trust_tier")


def control_state(objects: Sequence[Mapping[str, Any]], control: str) -> tuple[str, str]:
    """(state, why) of a ControlPlan control: the ControlPlan's word and reason, else the trust tier's meaning."""
    for doc in control_plans(objects):
        entry = _find_control(doc, control)
        state = _state_word(entry)
        if state:
            reason = entry.get("reason") if isinstance(entry, Mapping) else None
            return state, "the ControlPlan" + (f" ({reason})" if reason else "")
    tier = trust_tier(objects)
    return _TIER_STATES.get(tier or "", {}).get(control, ENFORCED), f"trust tier {tier or 'unknown'}"


def dormancy_reason(objects: Sequence[Mapping[str, Any]], control: str, config: Mapping[str, Any] | None,
                    *, enforced_only: bool = False) -> str | None:
    """Why a presence rule does not apply here, or None when it does.

    Off prod a control the ControlPlan (or, without one, the trust tier) leaves dormant is reported
    not applicable with this reason; `enforced_only` also excuses a control deliberately in audit.
    On prod nothing excuses a control.
    """
    if profile(config) == STRICT_PROFILE:
        return None
    state, source = control_state(objects, control)
    if state == DORMANT or (enforced_only and state == AUDIT):
        effect = "nothing is enforced" if state == DORMANT else "violations are audited, not denied"
        return (f"{control} is {state} per {source} on profile {profile(config)}: {effect}, so this check does not "
                "apply (on prod it always does)")
    return None


def objects_of(resources: Iterable[Any]) -> list[tuple[str, dict[str, Any]]]:
    """(urn, Kubernetes object) for every Kubernetes object among a stack policy's resources."""
    out = []
    for res in resources:
        obj = k8s_object(res.resource_type, res.props)
        if obj is not None:
            out.append((res.urn, obj))
    return out


EXPLICIT_LEVELS = {level.value: level for level in EnforcementLevel}
