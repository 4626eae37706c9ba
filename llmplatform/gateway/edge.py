"""The tenant edge: how clients outside the cluster reach LiteLLM, and only LiteLLM (`tenant_gateway.exposure`).

Pure functions (camelCase dicts, no Pulumi); TenantGateway wraps them, the tools read them.

- `cluster`: nothing beyond LiteLLM's ClusterIP Service.
- `internal`: a second Service `litellm-edge` of type LoadBalancer with GKE's
  `networking.gke.io/load-balancer-type: Internal`, so GKE builds an internal *passthrough* Network Load
  Balancer (L4, no proxy). `loadBalancerSourceRanges` are the client ranges (GKE turns them into the VPC
  firewall rule it creates for the Service), and `externalTrafficPolicy: Local` delivers packets to a
  LiteLLM pod on the node that received them with the client's own address, so LiteLLM's NetworkPolicy
  admits exactly `client_cidrs` on LiteLLM's port. The load balancer's health checks probe the node's
  `healthCheckNodePort` (served by the node's datapath, not by a pod), so no health-check range needs a
  path to any pod.
- `public`: a GKE Gateway of class `gke-l7-global-external-managed` (a global external Application Load
  Balancer) with one HTTPS listener for `hostname`, terminating TLS with a Google-managed certificate
  (Certificate Manager map, annotation `networking.gke.io/certmap`) or a referenced `kubernetes.io/tls`
  Secret, and one HTTPRoute to LiteLLM's Service. Its proxies (Google Front Ends) and health checks reach
  pods from 35.191.0.0/16 and 130.211.0.0/22 (container-native load balancing: pod IPs are the
  backends), so those two ranges, on LiteLLM's port only, are what LiteLLM's NetworkPolicy admits; the
  client allow-list is a Cloud Armor policy on the backend service (GCPBackendPolicy `securityPolicy`),
  because the proxy hides the client's address from the pod.

Either way nothing but LiteLLM gets a load balancer, a NodePort, an external IP or a Gateway listener; the
CrossGuard rule `edge-only-litellm-exposed` and `llmp verify`'s edge proof check that on the rendered plan,
Istio's generated Services included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmplatform import labels, naming, ports
from llmplatform.config.model import CertificateKind, ExposureMode, PlatformConfig, TenantExposure
from llmplatform.gateway import workloads

EDGE_SERVICE = naming.k8s("litellm-edge")
"""The internal load balancer's Service (mode internal)."""
EDGE_GATEWAY = naming.k8s("tenant-edge")
"""The GKE Gateway and its HTTPRoute (mode public)."""
PUBLIC_GATEWAY_CLASS = "gke-l7-global-external-managed"
"""GKE's global external Application Load Balancer (Envoy-based, Cloud Armor, Certificate Manager maps)."""
GKE_GATEWAY_GROUP = "networking.gke.io"
INTERNAL_LB_ANNOTATION = {"networking.gke.io/load-balancer-type": "Internal"}
"""GKE: a LoadBalancer Service with this annotation is an internal passthrough Network Load Balancer."""
CERTMAP_ANNOTATION = "networking.gke.io/certmap"
GOOGLE_PROXY_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
"""Where a global external Application Load Balancer's proxies and health checks reach backends from
(Google Cloud load balancing docs, "Firewall rules": health-check ranges; GFE proxy ranges are the same)."""
HTTPS = 443
HEALTH_PATH = "/health/liveliness"
"""LiteLLM's liveness route: no database or model call, so a backend is healthy while the proxy serves."""


@dataclass(frozen=True, kw_only=True)
class EdgeGcp:
    """Names of the GCP resources the substrate creates for a public edge (`substrates/gke/edge.py`)."""

    security_policy: Any
    """Cloud Armor policy admitting only `client_cidrs`."""
    certificate_map: Any = None
    """Certificate Manager map holding the managed certificate (kind managed); None with kind secret."""


def source_ranges(exposure: TenantExposure) -> tuple[str, ...]:
    """The addresses LiteLLM's pods see edge traffic arrive from: what its NetworkPolicy must admit on
    LiteLLM's port, and nothing else anywhere. internal: the clients themselves (passthrough, local
    delivery); public: the Google proxies and health checkers; cluster: none."""
    match exposure.mode:
        case ExposureMode.INTERNAL:
            return tuple(exposure.client_cidrs)
        case ExposureMode.PUBLIC:
            return GOOGLE_PROXY_RANGES
    return ()


def as_json(exposure: TenantExposure) -> dict[str, Any]:
    """The stack output `tenantEdge`: what `llmp verify`'s edge proof reads (from the config, not the rendering)."""
    return {"mode": exposure.mode.value, "clientCidrs": list(exposure.client_cidrs),
            "sourceRanges": list(source_ranges(exposure)), "hostname": exposure.hostname,
            "certificate": exposure.certificate.kind.value if exposure.certificate else None}


def client_base_url(cfg: PlatformConfig) -> str | None:
    """The base URL (no `/v1`) a tenant's client uses for this stack: public `https://<hostname>`;
    internal `http://<hostname>:4000` with a hostname, else None (the address is assigned at deploy; the
    stack output `tenantClientUrl` then carries it); cluster: the in-cluster Service URL."""
    exposure = cfg.tenant_gateway.exposure
    match exposure.mode:
        case ExposureMode.PUBLIC:
            return f"https://{exposure.hostname}"
        case ExposureMode.INTERNAL:
            return f"http://{exposure.hostname}:{ports.LITELLM_HTTP}" if exposure.hostname else None
    return workloads.service_url(naming.NS_TENANT_GATEWAY)


def _meta(name: str, namespace: Any, component: str, annotations: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels.standard(component, "tenant-gateway")}
    if annotations:
        out["annotations"] = annotations
    return out


def internal_service(exposure: TenantExposure, namespace: Any) -> dict[str, Any]:
    """mode internal: the internal passthrough load balancer in front of LiteLLM's pods, LiteLLM's port only."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(EDGE_SERVICE, namespace, workloads.LITELLM, dict(INTERNAL_LB_ANNOTATION)),
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "loadBalancerSourceRanges": list(exposure.client_cidrs),
            "selector": workloads.selector(workloads.LITELLM),
            "ports": [{"name": "http", "port": ports.LITELLM_HTTP, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def public_gateway(exposure: TenantExposure, namespace: Any, gcp: EdgeGcp) -> dict[str, Any]:
    """mode public: one HTTPS listener for `hostname`, routes from this namespace only."""
    cert = exposure.certificate
    assert cert is not None and exposure.hostname  # the config refuses public without them
    listener: dict[str, Any] = {"name": "https", "protocol": "HTTPS", "port": HTTPS, "hostname": exposure.hostname,
                                "allowedRoutes": {"namespaces": {"from": "Same"},
                                                  "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]}}
    annotations = None
    if cert.kind == CertificateKind.SECRET:
        listener["tls"] = {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": cert.secret_name}]}
    else:
        annotations = {CERTMAP_ANNOTATION: gcp.certificate_map}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": _meta(EDGE_GATEWAY, namespace, "tenant-edge", annotations),
        "spec": {"gatewayClassName": PUBLIC_GATEWAY_CLASS, "listeners": [listener]},
    }


def public_route(exposure: TenantExposure, namespace: Any) -> dict[str, Any]:
    """Every path on `hostname` to LiteLLM's Service (LiteLLM authenticates each call with a virtual key)."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": _meta(EDGE_GATEWAY, namespace, "tenant-edge"),
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": EDGE_GATEWAY,
                            "sectionName": "https"}],
            "hostnames": [exposure.hostname],
            "rules": [{"backendRefs": [{"group": "", "kind": "Service", "name": workloads.LITELLM,
                                        "port": ports.LITELLM_HTTP}]}],
        },
    }


def _litellm_target() -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": workloads.LITELLM}


def public_backend_policy(namespace: Any, gcp: EdgeGcp) -> dict[str, Any]:
    """Cloud Armor on LiteLLM's backend service: only `client_cidrs` get past the proxy."""
    return {
        "apiVersion": f"{GKE_GATEWAY_GROUP}/v1", "kind": "GCPBackendPolicy",
        "metadata": _meta(EDGE_GATEWAY, namespace, "tenant-edge"),
        "spec": {"default": {"securityPolicy": gcp.security_policy}, "targetRef": _litellm_target()},
    }


def public_health_check(namespace: Any) -> dict[str, Any]:
    """The load balancer's health check on LiteLLM's own port and liveness route (GKE's default is `/`)."""
    return {
        "apiVersion": f"{GKE_GATEWAY_GROUP}/v1", "kind": "HealthCheckPolicy",
        "metadata": _meta(EDGE_GATEWAY, namespace, "tenant-edge"),
        "spec": {"default": {"config": {"type": "HTTP", "httpHealthCheck": {
            "port": ports.LITELLM_HTTP, "requestPath": HEALTH_PATH}}}, "targetRef": _litellm_target()},
    }


def edge_objects(exposure: TenantExposure, namespace: Any, gcp: EdgeGcp | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(role, object) of everything the edge adds to the cluster; roles become `tenant-gateway-<role>`."""
    match exposure.mode:
        case ExposureMode.INTERNAL:
            return [("edge-service", internal_service(exposure, namespace))]
        case ExposureMode.PUBLIC:
            if gcp is None:
                raise ValueError("mode public needs the substrate's Cloud Armor policy (and certificate map)")
            return [("edge-gateway", public_gateway(exposure, namespace, gcp)),
                    ("edge-route", public_route(exposure, namespace)),
                    ("edge-backend-policy", public_backend_policy(namespace, gcp)),
                    ("edge-health-check", public_health_check(namespace))]
    return []
