"""TenantEdgeGcp: the GCP half of a public tenant edge (`tenant_gateway.exposure.mode: public`).

The Kubernetes half (the GKE Gateway, its HTTPRoute, GCPBackendPolicy and HealthCheckPolicy) is rendered
by TenantGateway from `llmplatform/gateway/edge.py`; GKE's Gateway controller builds the load balancer
from them and attaches what this component creates, by name:

Children (logical names `f"{name}-<role>"`):
- `-armor`: a Cloud Armor security policy `llmp-<stack>-tenant-edge`: allow `client_cidrs` (at most 10
  ranges per rule, as Cloud Armor allows), deny everything else with 403. The proxy hides client addresses
  from the pods, so this, not a NetworkPolicy, is the client allow-list.
- `-firewall`: a VPC firewall rule admitting the Google proxy and health-check ranges to the nodes (and the
  pods on them) on LiteLLM's port only: the load balancer's backends are LiteLLM's pod IPs.
- `-cert`, `-certmap`, `-certmap-entry` (certificate kind managed): a Google-managed Certificate Manager
  certificate for `hostname` in a map the Gateway names (`networking.gke.io/certmap`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from llmplatform import naming, ports
from llmplatform.config.model import CertificateKind, TenantExposure
from llmplatform.gateway.edge import GOOGLE_PROXY_RANGES, EdgeGcp

TYPE = "llmplatform:tenant_edge:TenantEdgeGcp"
ARMOR_RANGES_PER_RULE = 10
"""Cloud Armor's basic match (`srcIpRanges`) takes at most 10 ranges per rule."""
DEFAULT_RULE_PRIORITY = 2147483647


@dataclass(frozen=True, kw_only=True)
class TenantEdgeGcpArgs:
    stack: str
    project: str
    exposure: TenantExposure
    """Must be mode public: its `client_cidrs`, `hostname` and `certificate` decide the children."""
    network: pulumi.Input[str]
    """The cluster's VPC (id), for the firewall rule."""
    node_service_account: pulumi.Input[str]
    """Every node pool's service account: the firewall rule's target."""


def armor_rules(client_cidrs: tuple[str, ...]) -> list[dict[str, object]]:
    """Allow `client_cidrs` (10 to a rule), then deny everything else (the policy's default rule)."""
    chunks = [client_cidrs[i:i + ARMOR_RANGES_PER_RULE] for i in range(0, len(client_cidrs), ARMOR_RANGES_PER_RULE)]
    out: list[dict[str, object]] = [
        {"action": "allow", "priority": 1000 + i, "description": "tenant clients",
         "match": {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": list(chunk)}}}
        for i, chunk in enumerate(chunks)]
    out.append({"action": "deny(403)", "priority": DEFAULT_RULE_PRIORITY, "description": "everyone else",
                "match": {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": ["*"]}}})
    return out


class TenantEdgeGcp(pulumi.ComponentResource):
    """Cloud Armor, the proxy firewall rule and the managed certificate of a public edge; see the module."""

    edge: EdgeGcp
    """The names the Kubernetes half refers to."""

    def __init__(self, name: str, args: TenantEdgeGcpArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        exposure = args.exposure
        role = "tenant-edge"
        armor = gcp.compute.SecurityPolicy(
            f"{name}-armor", name=naming.gcp_edge(args.stack, role), project=args.project,
            description=f"llm-platform {args.stack}: tenant clients allowed to reach LiteLLM",
            rules=armor_rules(tuple(exposure.client_cidrs)), opts=child)
        gcp.compute.Firewall(
            f"{name}-firewall", name=naming.gcp_firewall(args.stack, "tenant-edge-proxies"), project=args.project,
            network=args.network, direction="INGRESS", source_ranges=list(GOOGLE_PROXY_RANGES),
            allows=[{"protocol": "tcp", "ports": [str(ports.LITELLM_HTTP)]}],
            target_service_accounts=[args.node_service_account],
            description=f"llm-platform {args.stack}: Google proxies and health checks to LiteLLM's port only",
            opts=child)
        certificate_map: pulumi.Output[str] | None = None
        if exposure.certificate is not None and exposure.certificate.kind == CertificateKind.MANAGED:
            cert = gcp.certificatemanager.Certificate(
                f"{name}-cert", name=naming.gcp_edge(args.stack, role), project=args.project,
                managed={"domains": [exposure.hostname]}, opts=child)
            cmap = gcp.certificatemanager.CertificateMap(
                f"{name}-certmap", name=naming.gcp_edge(args.stack, role), project=args.project, opts=child)
            gcp.certificatemanager.CertificateMapEntry(
                f"{name}-certmap-entry", name=naming.gcp_edge(args.stack, role), project=args.project,
                map=cmap.name, hostname=exposure.hostname, certificates=[cert.id], opts=child)
            certificate_map = cmap.name
        self.edge = EdgeGcp(security_policy=armor.name, certificate_map=certificate_map)
        self.register_outputs({"securityPolicy": armor.name, "certificateMap": certificate_map})
