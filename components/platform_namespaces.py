"""PlatformNamespaces: the namespaces every other component lands in, with the labels policies select on."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from llmplatform import labels, naming
from llmplatform.controls.sr1_host_isolation.render import PSS_BASELINE, PSS_ENFORCE, PSS_RESTRICTED
from llmplatform.controls.tiers import ControlPlan, ControlState

TYPE = "llmplatform:platform_namespaces:PlatformNamespaces"

# Pod Security Standards (SR1 host isolation, `llmplatform.controls.sr1_host_isolation.render`): serving, gateways,
# monitoring and tenants run `restricted`; the operators' namespaces `baseline` (no host network, PID,
# IPC, ports or privileged containers). No namespace we create is `privileged`.
_PSS = PSS_ENFORCE


@dataclass(frozen=True, kw_only=True)
class PlatformNamespacesArgs:
    control_plan: ControlPlan
    """Its trust tier is recorded on every namespace (`llmplatform.io/trust-tier`) so reports and policies
    can read it; its `tenant-namespaces` decision says whether tenants get namespaces of their own."""
    tenants: tuple[str, ...] = ()
    """Tenant names; each gets its own `tenant-<name>` namespace where the plan enforces per-tenant
    namespaces (the untrusted tier), none otherwise."""

    @property
    def tenant_namespaces(self) -> tuple[str, ...]:
        """The tenants that get a namespace of their own."""
        return self.tenants if self.control_plan.tenant_namespaces.state == ControlState.ENFORCED else ()


class PlatformNamespaces(pulumi.ComponentResource):
    """`serving`, `gateway`, `tenant_gateway`, the operators' namespaces, and optional tenant namespaces."""

    serving: k8s.core.v1.Namespace
    gateway: k8s.core.v1.Namespace
    tenant_gateway: k8s.core.v1.Namespace
    platform: dict[str, k8s.core.v1.Namespace]
    """Operator namespaces by name (kueue-system, keda, monitoring, cnpg-system, kyverno)."""
    tenants: dict[str, k8s.core.v1.Namespace]

    def __init__(self, name: str, args: PlatformNamespacesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)

        trust_tier = args.control_plan.trust_tier.value

        def namespace(role: str, ns_name: str, tier: str, pss: str) -> k8s.core.v1.Namespace:
            return k8s.core.v1.Namespace(
                f"{name}-{role}",
                metadata={
                    "name": naming.k8s(ns_name),
                    "labels": {
                        labels.NAMESPACE_TIER: tier,
                        labels.TRUST_TIER: trust_tier,
                        labels.PART_OF: "llm-platform",
                        _PSS: pss,
                    },
                },
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.serving = namespace("serving", naming.NS_SERVING, labels.NS_TIER_SERVING, PSS_RESTRICTED)
        self.gateway = namespace("gateway", naming.NS_GATEWAY, labels.NS_TIER_GATEWAY, PSS_RESTRICTED)
        self.tenant_gateway = namespace(
            "tenant-gateway", naming.NS_TENANT_GATEWAY, labels.NS_TIER_TENANT_GATEWAY, PSS_RESTRICTED
        )
        self.platform = {
            ns: namespace(ns, ns, labels.NS_TIER_PLATFORM,
                          PSS_RESTRICTED if ns == naming.NS_MONITORING else PSS_BASELINE)
            for ns in (naming.NS_KUEUE, naming.NS_KEDA, naming.NS_MONITORING, naming.NS_CNPG, naming.NS_KYVERNO)
        }
        self.tenants = {
            t: namespace(f"tenant-{t}", naming.tenant_namespace(t), labels.NS_TIER_TENANT, PSS_RESTRICTED)
            for t in args.tenant_namespaces
        }
        self.register_outputs({})
