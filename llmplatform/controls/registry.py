"""The one list of the platform's controls: what decides each, what renders it, what checks and proves it.

Everything that walks the controls walks `CONTROLS`, in this order:
- `tiers.plan_controls` / `ControlPlan.decisions`: the decided controls' keys and titles (`TITLES`);
- `components.governance_pack.GovernancePack`: calls each `render` whose decision is not dormant;
- the CrossGuard pack (`policy/rules`): its policies, in `policy_names()` order; `policy/config/*.json`
  equal `pack_config(profile)` (a test compares them);
- `llmp verify`: runs each control's `proof`, a `module:function` path the tool resolves with importlib
  (the Pulumi program never imports a proof: product code must not depend on tooling).

Adding a control is one folder (`llmplatform/controls/<key>/`: `render.py` with `objects(inputs)`,
`predicates.py`), one entry here and one policy rule file (`policy/rules/<key>.py`); see
docs/architecture.md, "Add a control".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmplatform.controls.rendering import ControlInputs, Item


@dataclass(frozen=True, kw_only=True)
class PolicyRule:
    """One CrossGuard policy of the pack (`policy/rules/`), by name."""

    name: str
    profile_pinned: bool = False
    """The rule's requirements depend on the profile (it takes a `profile` config property): the prod
    pack config pins `profile: prod` so a prod stack cannot talk itself out of it."""


@dataclass(frozen=True, kw_only=True)
class Control:
    """One control: its decision, its pure builder, its CrossGuard policies and its proof."""

    key: str
    """Stable id (outputs, the ConfigMap, log lines); its folder is `llmplatform/controls/<key with _>/`."""
    title: str
    decided_by: str | None
    """The ControlPlan decision that switches it: its own key when the tier plan decides it, another
    control's key when it rides on that decision (rendered exactly when that one is), None when no tier
    decides it (checked on every stack)."""
    render: str | None = None
    """Module path of its pure builder, `objects(inputs: ControlInputs) -> list[Rendered | Release]`: what
    GovernancePack creates when the decision is not dormant. None: nothing in GovernancePack (`rendered_by`
    says who puts it in place). A path, not an import, so this module stays a leaf that the tier plan,
    config and the policy pack read without import cycles."""
    rendered_by: str = ""
    """Where a control GovernancePack does not render is put in place (docs and tests read it)."""
    policies: tuple[PolicyRule, ...] = ()
    """The CrossGuard policies that check it, in report order."""
    proof: str | None = None
    """`module:function` of its `llmp verify` proof (takes `llmp.verify.run.ProofContext`, returns a `Proof`),
    resolved by the tool only. None: its tests and CrossGuard check it (another control's proof may cover it)."""

    @property
    def decided(self) -> bool:
        """The tier plan decides this control itself (it has a ControlPlan decision of its own)."""
        return self.decided_by == self.key

    @property
    def folder(self) -> str:
        return self.key.replace("-", "_")

    def objects(self, inputs: ControlInputs) -> Sequence[Item]:
        """What `render` builds for these inputs (empty without a render)."""
        if self.render is None:
            return ()
        builder: Callable[[ControlInputs], Sequence[Item]] = importlib.import_module(self.render).objects
        return builder(inputs)


_PKG = "llmplatform.controls"
_PROOFS = "llmp.verify.run"
"""Where the SR proofs live (tooling; `llmp verify` imports them, the program never does)."""

CONTROLS: tuple[Control, ...] = (
    Control(key="sr1-network", title="SR1 network policies", decided_by="sr1-network",
            render=f"{_PKG}.sr1_network.render",
            policies=(PolicyRule(name="sr1-dataplane-v2"), PolicyRule(name="sr1-default-deny", profile_pinned=True),
                      PolicyRule(name="sr1-only-litellm-reaches-serving")),
            proof=f"{_PROOFS}:sr1_network_proof"),
    Control(key="sr1-identity", title="SR1 identity admission", decided_by="sr1-identity",
            render=f"{_PKG}.sr1_identity.render",
            policies=(PolicyRule(name="sr1-identity-rule", profile_pinned=True),)),
    Control(key="sr1-host-isolation", title="SR1 host isolation admission", decided_by="sr1-identity",
            render=f"{_PKG}.sr1_host_isolation.render"),
    Control(key="no-default-service-account", title="No platform workload as the default ServiceAccount",
            decided_by="sr1-identity", render=f"{_PKG}.no_default_service_account.render",
            policies=(PolicyRule(name="sr1-no-default-service-account"),)),
    Control(key="tenant-edge", title="Tenant edge exposes LiteLLM only", decided_by=None,
            rendered_by="components.tenant_gateway (llmplatform/gateway/edge.py: the internal load balancer's "
                        "Service or the public Gateway) and substrates/gke/tenant_edge.py (Cloud Armor, firewall)",
            policies=(PolicyRule(name="edge-only-litellm-exposed"),),
            proof=f"{_PROOFS}:tenant_edge_proof"),
    Control(key="sr2-gpu-admission", title="SR2 GPU admission", decided_by="sr2-gpu-admission",
            render=f"{_PKG}.sr2_gpu_admission.render",
            policies=(PolicyRule(name="sr2-admission-enforced", profile_pinned=True),
                      PolicyRule(name="sr2-gpu-workloads-queued")),
            proof=f"{_PROOFS}:sr2_gpu_admission_proof"),
    Control(key="sr3-fail-closed", title="SR3 budgets fail closed", decided_by="sr3-fail-closed",
            rendered_by="components.tenant_gateway (LiteLLM's config, CNPG instances, Redis)",
            policies=(PolicyRule(name="sr3-prod-fails-closed", profile_pinned=True),
                      PolicyRule(name="sr3-prod-budget-db-ha", profile_pinned=True),
                      PolicyRule(name="sr3-shared-budget-counters")),
            proof=f"{_PROOFS}:sr3_fail_closed_proof"),
    Control(key="prefix-cache", title="Prefix-cache isolation", decided_by="prefix-cache",
            rendered_by="components.tenant_gateway (the tenant_cache_salt hook)"),
    Control(key="tenant-namespaces", title="Per-tenant namespaces", decided_by="tenant-namespaces",
            render=f"{_PKG}.tenant_namespaces.render"),
    Control(key="gpu-isolation", title="GPU isolation", decided_by="gpu-isolation",
            rendered_by="the GPU pool (MIG or whole GPUs; time-slicing refused by the tier plan)"),
    Control(key="hygiene", title="Hygiene", decided_by=None,
            rendered_by="every component (digest-pinned images, secrets in Secrets)",
            policies=(PolicyRule(name="hygiene-images-pinned"), PolicyRule(name="hygiene-no-plaintext-secrets"))),
)
"""Every control, in the order plans, tables, the pack and the proofs list them."""

TITLES: dict[str, str] = {c.key: c.title for c in CONTROLS if c.decided}
"""Decided control key -> title, in `CONTROLS` order (the ControlPlan's decisions and the tier table)."""


def by_key(key: str) -> Control:
    return next(c for c in CONTROLS if c.key == key)


def policy_names() -> list[str]:
    """Every CrossGuard policy, in report order."""
    return [p.name for c in CONTROLS for p in c.policies]


PACK_LEVELS = {"dev": "advisory", "prod": "mandatory"}
"""Enforcement level of every policy in each profile's pack config."""


def pack_config(profile: str) -> dict[str, dict[str, str]]:
    """`policy/config/<profile>.json` as the registry says it: every policy with an explicit level (a missing
    level is silently advisory), and on prod the profile pinned on every profile-dependent policy."""
    out: dict[str, dict[str, str]] = {}
    for c in CONTROLS:
        for p in c.policies:
            out[p.name] = {"enforcementLevel": PACK_LEVELS[profile]}
            if profile == "prod" and p.profile_pinned:
                out[p.name]["profile"] = "prod"
    return out
