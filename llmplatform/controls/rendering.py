"""What a control's pure builder takes and returns; `GovernancePack` turns the result into resources.

A control's `render.objects(inputs)` returns `Rendered` Kubernetes objects (plain dicts, as they
would be applied) and at most one `Release` (a pinned Helm release it needs). It never touches
Pulumi: `components.governance_pack` creates each item as a child named `f"{name}-{item.role}"`
in one thin wrapper, so the logical names, and with them the URNs, are the control's contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmplatform.config.model import TenantSpec
    from llmplatform.controls.sr1_network.render import NetworkFacts
    from llmplatform.controls.tenant_namespaces.render import TenantQuota
    from llmplatform.controls.tiers import ControlPlan
    from substrates.capabilities import SubstrateCapabilities


@dataclass(frozen=True, kw_only=True)
class Rendered:
    """One Kubernetes object a control renders."""

    role: str
    """Logical-name suffix: GovernancePack names the child `f"{name}-{role}"`. Never change it after a
    deploy (it is part of the URN)."""
    obj: Mapping[str, Any]
    """The object as applied (`apiVersion`, `kind`, `metadata`, and the kind's own fields). A
    `metadata.namespace` is replaced by the Namespace resource's name when GovernancePack was given it."""
    after: tuple[str, ...] = ()
    """Roles of this control's earlier items that must exist first (a binding after its policy)."""


@dataclass(frozen=True, kw_only=True)
class Release:
    """A pinned Helm release a control needs (Kyverno for SR2's ClusterPolicy)."""

    role: str
    release: str
    """The Helm release name."""
    chart: str
    version: str
    repo: str
    namespace: str
    values: Mapping[str, Any]
    timeout: int = 600
    """Seconds Helm waits for the release (atomic: a failed install is rolled back)."""


Item = Rendered | Release


@dataclass(frozen=True, kw_only=True)
class ControlInputs:
    """Everything a control's builder may read: the plan and the stack's facts, plain values only."""

    plan: ControlPlan
    capabilities: SubstrateCapabilities
    network: NetworkFacts
    """Where things live (tenant namespaces only where the plan enforces them)."""
    tenants: tuple[TenantSpec, ...] = ()
    """Tenants with a namespace of their own (empty unless the plan enforces tenant namespaces)."""
    exempt_namespaces: tuple[str, ...] = ()
    """Namespaces SR2 does not manage (sorted, deduplicated)."""
    litellm_service_account: str = "litellm"
    serving_models: tuple[str, ...] = ()
    high_availability: bool = False
    """Prod: operator releases a control installs run HA."""
    tenant_quota: TenantQuota | None = None
    tenant_group_format: str = ""
