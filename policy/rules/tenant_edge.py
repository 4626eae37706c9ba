"""Tenant edge: no LoadBalancer, NodePort, external IP, Ingress or Gateway listener reaches anything but LiteLLM.

The Services Istio generates for `istio`-class Gateways are not plan resources: the rule models them from
each Gateway (and istiod's `gatewayClasses` values), as `llmplatform.controls.tenant_edge.predicates` says.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from llmplatform.controls.tenant_edge.predicates import exposures

from .common import objects_of, plain

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def istiod_class_defaults(resources: Any) -> dict[str, dict[str, Any]]:
    """istiod's `gatewayClasses` values (class -> kind -> overlay), from the pinned istiod Helm release."""
    out: dict[str, dict[str, Any]] = {}
    for res in resources:
        if res.resource_type != HELM_RELEASE:
            continue
        props = plain(res.props) or {}
        if props.get("chart") == "istiod" or str(props.get("chart", "")).endswith("/istiod"):
            out.update((props.get("values") or {}).get("gatewayClasses") or {})
    return out


def _only_litellm_exposed(args: StackValidationArgs, report: ReportViolation) -> None:
    objects = objects_of(args.resources)
    urns = {f"{o.get('kind')} {(o.get('metadata') or {}).get('namespace') or 'default'}/"
            f"{(o.get('metadata') or {}).get('name')}": urn for urn, o in objects}
    for exposure in exposures([o for _, o in objects], istiod_class_defaults(args.resources)):
        urn = next((u for ref, u in urns.items() if exposure.what.startswith(ref)), None)
        for problem in exposure.problems:
            report(problem, urn)


edge_only_litellm_exposed = StackValidationPolicy(
    name="edge-only-litellm-exposed",
    description="Tenant edge: no Service of type LoadBalancer or NodePort, no externalIPs, no Ingress and no Gateway "
                "listener of a cloud load-balancer class reaches anything but LiteLLM's API port (the Services "
                "Istio generates for its Gateways included, modelled from istiod 1.29.2).",
    validate=_only_litellm_exposed,
    severity=Severity.CRITICAL,
    remediation_steps="Expose tenants through tenant_gateway.exposure only; keep the inference gateway's Service "
                      "ClusterIP (metadata annotation networking.istio.io/service-type: ClusterIP).",
)

POLICIES = [edge_only_litellm_exposed]
