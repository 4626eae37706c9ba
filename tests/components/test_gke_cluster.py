"""GkeCluster under recording mocks: inputs, parents, options and providers of every child (GpuPool: test_gpu_pool.py)."""

from __future__ import annotations

import pytest

from components.gke_cluster import DATAPATH_PROVIDER, NODE_SA_ROLES, GkeCluster, GkeClusterArgs


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
