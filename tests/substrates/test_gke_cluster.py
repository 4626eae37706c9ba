"""GkeCluster under recording mocks: inputs, parents, options and providers of every child (GpuPool: test_gke_gpu_pool.py)."""

from __future__ import annotations

import ipaddress

import pytest
from pulumi.errors import InputPropertiesError

from substrates.gke.cluster import (
    ADDON_NAMESPACES,
    DATAPATH_PROVIDER,
    NODE_SA_ROLES,
    ApiEndpoint,
    GkeCluster,
    GkeClusterArgs,
)
from llmplatform import naming
from llmplatform.config.model import DEFAULT_MASTER_IPV4_CIDR
from llmplatform.controls.exemptions import sr2_exempt_namespaces


def cluster_args(**overrides) -> GkeClusterArgs:
    base = dict(stack="t", project="acme-llm-test", region="us-central1", node_zones=("us-central1-a",))
    return GkeClusterArgs(**{**base, **overrides})


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_cluster_is_created_with_dataplane_v2_and_no_default_pool(recorder):
    recorder.run(lambda: GkeCluster("gke", cluster_args()))
    inputs = recorder.inputs(recorder.named("gke-cluster"))
    assert inputs["datapathProvider"] == DATAPATH_PROVIDER == "ADVANCED_DATAPATH"
    assert inputs["removeDefaultNodePool"] is True
    assert inputs["workloadIdentityConfig"] == {"workloadPool": "acme-llm-test.svc.id.goog"}
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["gatewayApiConfig"] == {"channel": "CHANNEL_STANDARD"}
    assert inputs["releaseChannel"] == {"channel": "REGULAR"}
    assert inputs["networkingMode"] == "VPC_NATIVE"
    assert inputs["name"] == "llmp-t"


def test_deletion_protection_protects_the_cluster_against_silent_replacement(recorder):
    recorder.run(lambda: (GkeCluster("gke", cluster_args(deletion_protection=True)),
                          GkeCluster("gke2", cluster_args(stack="u", deletion_protection=False))))
    guarded, unguarded = recorder.named("gke-cluster"), recorder.named("gke2-cluster")
    assert guarded.protect and recorder.inputs(guarded)["deletionProtection"] is True
    assert not unguarded.protect and recorder.inputs(unguarded)["deletionProtection"] is False


def test_every_child_is_parented_to_the_component(recorder):
    recorder.run(lambda: GkeCluster("gke", cluster_args()))
    root = recorder.named("gke")
    assert root.type == "llmplatform:gke_cluster:GkeCluster"
    expected = {"gke-network", "gke-subnet", "gke-router", "gke-nat", "gke-nodes-sa", "gke-cluster",
                "gke-system-pool", "gke-k8s"} | {
        f"gke-nodes-sa-{r.removeprefix('roles/').replace('.', '-')}" for r in NODE_SA_ROLES}
    assert {c.name for c in recorder.children_of(root)} == expected
    assert len(recorder.registrations) == len(expected) + 1


def test_kubeconfig_is_secret_and_the_provider_uses_it(recorder):
    comp = recorder.run(lambda: GkeCluster("gke", cluster_args()))
    value, is_secret = recorder.resolve(comp.kubeconfig)
    assert is_secret and "gke-gcloud-auth-plugin" in value  # exec auth: no static credential inside
    provider = recorder.named("gke-k8s")
    assert provider.type == "pulumi:providers:kubernetes"
    assert recorder.inputs(provider)["kubeconfig"] == "[secret]"
    assert recorder.named("gke-system-pool").urn in provider.dependencies


def test_nodes_run_as_a_least_privilege_service_account(recorder):
    recorder.run(lambda: GkeCluster("gke", cluster_args()))
    members = recorder.of_type("gcp:projects/iAMMember:IAMMember")
    assert sorted(recorder.inputs(m)["role"] for m in members) == sorted(NODE_SA_ROLES)
    assert {recorder.inputs(m)["member"] for m in members} == {
        "serviceAccount:llmp-t-nodes@acme-llm-test.iam.gserviceaccount.com"}
    pool = recorder.inputs(recorder.named("gke-system-pool"))
    assert pool["nodeConfig"]["serviceAccount"] == "llmp-t-nodes@acme-llm-test.iam.gserviceaccount.com"
    assert pool["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}


def test_private_nodes_have_a_nat_for_image_and_weight_downloads(recorder):
    recorder.run(lambda: GkeCluster("gke", cluster_args()))
    nat = recorder.inputs(recorder.named("gke-nat"))
    assert nat["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"
    subnet = recorder.inputs(recorder.named("gke-subnet"))
    assert {r["rangeName"] for r in subnet["secondaryIpRanges"]} == {"pods", "services"}


# --- API endpoint (issue 13 A) ---

def server_of(kubeconfig: str) -> str:
    (line,) = [x for x in kubeconfig.splitlines() if x.strip().startswith("server:")]
    return line.split("server:", 1)[1].strip()


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_the_default_public_endpoint_is_what_the_kubeconfig_names(recorder):
    comp = recorder.run(lambda: GkeCluster("gke", cluster_args()))
    inputs = recorder.inputs(recorder.named("gke-cluster"))
    assert comp.api_endpoint == ApiEndpoint.PUBLIC
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert "masterAuthorizedNetworksConfig" not in inputs, "public and no authorized ranges: the feature stays off"
    kubeconfig, _ = recorder.resolve(comp.kubeconfig)
    assert server_of(kubeconfig) == "https://203.0.113.10"


def test_a_public_endpoint_kubeconfig_points_at_the_clusters_endpoint(recorder):
    comp = recorder.run(lambda: GkeCluster("gke", cluster_args(master_authorized_cidrs=("203.0.113.0/24",))))
    address, secret = recorder.resolve(comp.kube_api_endpoint)
    assert address == "203.0.113.10" and not secret
    kubeconfig, _ = recorder.resolve(comp.kubeconfig)
    assert server_of(kubeconfig) == "https://203.0.113.10"
    inputs = recorder.inputs(recorder.named("gke-cluster"))
    assert inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"cidrBlock": "203.0.113.0/24", "displayName": "authorized-0"}]}


def test_a_private_endpoint_kubeconfig_points_inside_the_control_plane_range(recorder):
    comp = recorder.run(lambda: GkeCluster("gke", cluster_args(api_endpoint=ApiEndpoint.PRIVATE,
                                                               master_authorized_cidrs=("10.0.0.0/8",))))
    inputs = recorder.inputs(recorder.named("gke-cluster"))
    assert inputs["privateClusterConfig"] == {"enablePrivateEndpoint": True, "enablePrivateNodes": True,
                                              "masterIpv4CidrBlock": DEFAULT_MASTER_IPV4_CIDR}
    address, secret = recorder.resolve(comp.kube_api_endpoint)
    assert ipaddress.ip_address(address) in ipaddress.ip_network(DEFAULT_MASTER_IPV4_CIDR) and not secret
    kubeconfig, secret = recorder.resolve(comp.kubeconfig)
    assert server_of(kubeconfig) == f"https://{address}" and secret
    assert address != "203.0.113.10", "never the public endpoint, which GKE stops serving"


def test_a_private_endpoint_keeps_authorized_networks_on_even_without_ranges(recorder):
    recorder.run(lambda: GkeCluster("gke", cluster_args(api_endpoint=ApiEndpoint.PRIVATE)))
    inputs = recorder.inputs(recorder.named("gke-cluster"))
    assert inputs["masterAuthorizedNetworksConfig"] == {"cidrBlocks": []}


@pytest.mark.parametrize(("overrides", "path", "words"), [
    (dict(api_endpoint=ApiEndpoint.PRIVATE, private_nodes=False), "api_endpoint", "requires private_nodes: true"),
    (dict(master_authorized_cidrs=("10.0.0.0/8",)), "master_authorized_cidrs[0]", "RFC 1918"),
    (dict(master_authorized_cidrs=("100.64.0.0/10",)), "master_authorized_cidrs[0]", "CGNAT"),
    (dict(master_authorized_cidrs=("169.254.169.0/24",)), "master_authorized_cidrs[0]", "link-local"),
    (dict(api_endpoint=ApiEndpoint.PRIVATE, master_authorized_cidrs=("203.0.113.0/24",)),
     "master_authorized_cidrs[0]", "must be a private range"),
    (dict(master_authorized_cidrs=("10.0.0.1/8",)), "master_authorized_cidrs[0]", "must be a CIDR block"),
    (dict(control_plane_ports=(9443, 0)), "control_plane_ports[1]", "1-65535"),
], ids=["private-without-private-nodes", "public-rfc1918", "public-cgnat", "public-link-local",
        "private-with-public-range", "host-bits-set", "port-zero"])
def test_contradictory_endpoint_inputs_are_refused_by_name(recorder, overrides, path, words):
    with pytest.raises(InputPropertiesError) as info:
        recorder.run(lambda: GkeCluster("gke", cluster_args(**overrides)))
    (problem,) = info.value.errors
    assert problem["property_path"] == path and words in problem["reason"]
    assert not recorder.of_type("gcp:container/cluster:Cluster"), "nothing is created from invalid inputs"


def test_a_public_range_that_only_overlaps_private_space_is_public(recorder):
    recorder.run(lambda: GkeCluster("gke", cluster_args(master_authorized_cidrs=("0.0.0.0/0", "8.0.0.0/6"))))
    assert recorder.named("gke-cluster")


# --- control-plane firewall for webhooks on private nodes (issue 13 B) ---

FIREWALL = "gcp:compute/firewall:Firewall"


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_private_nodes_open_the_given_webhook_ports_to_the_control_plane_only(recorder):
    comp = recorder.run(lambda: GkeCluster("gke", cluster_args(control_plane_ports=(9443, 8443, 9443))))
    (fw,) = recorder.of_type(FIREWALL)
    assert fw.name == "gke-control-plane-firewall" and fw.parent == recorder.named("gke").urn
    inputs = recorder.inputs(fw)
    assert inputs["name"] == "llmp-t-control-plane-webhooks"
    assert inputs["direction"] == "INGRESS"
    assert inputs["sourceRanges"] == [DEFAULT_MASTER_IPV4_CIDR]
    assert inputs["allows"] == [{"protocol": "tcp", "ports": ["8443", "9443"]}]
    assert inputs["network"] == "gke-network-id"  # the component's VPC (the mocks' id for `gke-network`)
    assert recorder.named("gke-network").urn in fw.dependencies
    # The nodes are whatever runs as the node service account: the system pool here, the GPU pool in
    # substrates/gke/substrate.py (tests/substrates/test_gke_substrate.py).
    pool = recorder.inputs(recorder.named("gke-system-pool"))
    assert inputs["targetServiceAccounts"] == [pool["nodeConfig"]["serviceAccount"]] == [
        "llmp-t-nodes@acme-llm-test.iam.gserviceaccount.com"]
    assert "targetTags" not in inputs and "sourceTags" not in inputs
    assert "control plane" in inputs["description"] and "8443,9443" in inputs["description"]
    assert comp.control_plane_firewall is not None


@pytest.mark.parametrize("overrides", [dict(control_plane_ports=()),
                                       dict(private_nodes=False, control_plane_ports=(9443,))],
                         ids=["no-ports", "public-nodes"])
def test_no_firewall_without_private_nodes_or_ports(recorder, overrides):
    comp = recorder.run(lambda: GkeCluster("gke", cluster_args(**overrides)))
    assert recorder.of_type(FIREWALL) == [] and comp.control_plane_firewall is None


def test_the_firewall_name_is_checked_against_gcps_limit():
    assert naming.gcp_firewall("prod", "control-plane-webhooks") == "llmp-prod-control-plane-webhooks"
    with pytest.raises(naming.NameTooLong):
        naming.gcp_firewall("s" * 40, "control-plane-webhooks")


# --- add-on namespaces vs SR2 exemptions (issue 13 D) ---

def test_every_namespace_an_enabled_add_on_creates_is_exempt_from_sr2():
    assert set(ADDON_NAMESPACES) >= {"gmp-system", "gmp-public"}
    assert set(ADDON_NAMESPACES) <= set(sr2_exempt_namespaces())


def test_managed_prometheus_is_enabled_so_its_namespaces_exist(recorder):
    recorder.run(lambda: GkeCluster("gke", cluster_args()))
    inputs = recorder.inputs(recorder.named("gke-cluster"))
    assert inputs["monitoringConfig"]["managedPrometheus"] == {"enabled": True}
