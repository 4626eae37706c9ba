"""The tenant edge's pure half (llmplatform/gateway/edge.py): client URLs, source ranges, rendered objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmplatform import naming, ports
from llmplatform.config.model import CertificateKind, EdgeCertificate, ExposureMode, TenantExposure
from llmplatform.config.stack_file import load_stack_file
from llmplatform.gateway import edge, workloads

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stack,url", [
    ("dev", f"http://litellm.{naming.NS_TENANT_GATEWAY}.svc.cluster.local:4000"),
    ("prod", "http://llm.internal.acme.example:4000"),
    ("public", "https://llm.acme.example"),
    ("vast", f"http://litellm.{naming.NS_TENANT_GATEWAY}.svc.cluster.local:4000"),
])
def test_the_client_base_url_of_each_stack(stack, url):
    assert edge.client_base_url(load_stack_file(ROOT, stack)) == url


def test_an_internal_edge_without_a_hostname_has_no_url_until_the_load_balancer_has_an_address():
    cfg = load_stack_file(ROOT, "prod", tenant_gateway={"replicas": 3, "redis": True, "postgres_instances": 3,
                                                        "backup_bucket": "gs://acme-backups", "exposure": {
                                                            "mode": "internal", "client_cidrs": ["10.128.0.0/16"]}})
    assert edge.client_base_url(cfg) is None


def test_source_ranges_are_the_clients_behind_a_passthrough_balancer_and_googles_proxies_behind_a_gateway():
    internal = TenantExposure(mode=ExposureMode.INTERNAL, client_cidrs=("10.128.0.0/16",))
    public = TenantExposure(mode=ExposureMode.PUBLIC, client_cidrs=("203.0.113.0/24",), hostname="llm.example.com",
                            certificate=EdgeCertificate(kind=CertificateKind.MANAGED))
    assert edge.source_ranges(TenantExposure()) == ()
    assert edge.source_ranges(internal) == ("10.128.0.0/16",)
    assert edge.source_ranges(public) == ("35.191.0.0/16", "130.211.0.0/22")


def test_the_internal_edge_is_an_internal_passthrough_balancer_on_litellms_port_keeping_client_addresses():
    exposure = TenantExposure(mode=ExposureMode.INTERNAL, client_cidrs=("10.128.0.0/16", "10.200.0.0/16"))
    [(role, svc)] = edge.edge_objects(exposure, naming.NS_TENANT_GATEWAY)
    assert role == "edge-service"
    assert svc["metadata"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}
    spec = svc["spec"]
    assert spec["type"] == "LoadBalancer" and spec["externalTrafficPolicy"] == "Local"
    assert spec["loadBalancerSourceRanges"] == ["10.128.0.0/16", "10.200.0.0/16"]
    assert spec["selector"] == workloads.selector(workloads.LITELLM)
    assert [(p["port"], p["targetPort"]) for p in spec["ports"]] == [(ports.LITELLM_HTTP, "http")]


@pytest.mark.parametrize("kind", list(CertificateKind))
def test_the_public_edge_is_one_https_listener_routed_to_litellm_with_cloud_armor(kind):
    cert = EdgeCertificate(kind=kind, secret_name="tls" if kind == CertificateKind.SECRET else None)
    exposure = TenantExposure(mode=ExposureMode.PUBLIC, client_cidrs=("203.0.113.0/24",), hostname="llm.example.com",
                              certificate=cert)
    gcp = edge.EdgeGcp(security_policy="armor", certificate_map="map" if kind == CertificateKind.MANAGED else None)
    objs = dict(edge.edge_objects(exposure, naming.NS_TENANT_GATEWAY, gcp))
    gateway = objs["edge-gateway"]
    [listener] = gateway["spec"]["listeners"]
    assert gateway["spec"]["gatewayClassName"] == "gke-l7-global-external-managed"
    assert (listener["protocol"], listener["port"], listener["hostname"]) == ("HTTPS", 443, "llm.example.com")
    if kind == CertificateKind.MANAGED:
        assert gateway["metadata"]["annotations"] == {"networking.gke.io/certmap": "map"} and "tls" not in listener
    else:
        assert listener["tls"]["certificateRefs"] == [{"kind": "Secret", "name": "tls"}]
    [rule] = objs["edge-route"]["spec"]["rules"]
    assert rule["backendRefs"] == [{"group": "", "kind": "Service", "name": "litellm", "port": ports.LITELLM_HTTP}]
    assert objs["edge-backend-policy"]["spec"]["default"] == {"securityPolicy": "armor"}
    check = objs["edge-health-check"]["spec"]["default"]["config"]["httpHealthCheck"]
    assert check == {"port": ports.LITELLM_HTTP, "requestPath": "/health/liveliness"}


def test_a_public_edge_without_the_substrates_cloud_armor_policy_is_not_rendered():
    exposure = TenantExposure(mode=ExposureMode.PUBLIC, client_cidrs=("203.0.113.0/24",), hostname="llm.example.com",
                              certificate=EdgeCertificate(kind=CertificateKind.MANAGED))
    with pytest.raises(ValueError, match="Cloud Armor"):
        edge.edge_objects(exposure, naming.NS_TENANT_GATEWAY, None)


def test_cloud_armor_allows_the_clients_ten_ranges_to_a_rule_then_denies_everyone():
    from substrates.gke.tenant_edge import armor_rules

    cidrs = tuple(f"203.0.{i}.0/24" for i in range(23))
    rules = armor_rules(cidrs)
    allowed = [r["match"]["config"]["src_ip_ranges"] for r in rules if r["action"] == "allow"]
    assert [len(a) for a in allowed] == [10, 10, 3] and sum(allowed, []) == list(cidrs)
    assert rules[-1]["action"] == "deny(403)" and rules[-1]["priority"] == 2147483647
