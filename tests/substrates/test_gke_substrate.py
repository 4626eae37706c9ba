"""The GKE substrate builder under recording mocks and in the offline plan: the control-plane firewall
reaches every node pool, the Workload Identity binding waits for the pool its cluster creates, and the
plan records which API endpoint the kubeconfig uses."""

from __future__ import annotations

import ipaddress
import json

from llmplatform import naming
from llmplatform.config import GkeSubstrate, GpuPool as GpuPoolConfig
from llmplatform.config.model import ApiEndpoint
from llmplatform.gateway.workloads import BUDGET_DB
from substrates.gke import budget_backup_writer, build_gke

ZONES = ("us-central1-a", "us-central1-b")
CLUSTER = "gcp:container/cluster:Cluster"
FIREWALL = "gcp:compute/firewall:Firewall"


def substrate(**overrides) -> GkeSubstrate:
    return GkeSubstrate(**{**dict(kind="gke", project="acme-llm-test", region="us-central1", zones=ZONES,
                                  deletion_protection=False), **overrides})


POOL = GpuPoolConfig(accelerator="nvidia-l4", machine_type="g2-standard-8", min_nodes=0, max_nodes=1)


def test_the_webhook_firewall_targets_the_account_the_gpu_nodes_run_as(recorder):
    recorder.run(lambda: build_gke("gke", "t", substrate(), POOL, control_plane_ports=(9443, 4443)))
    (fw,) = recorder.of_type(FIREWALL)
    gpu = recorder.inputs(recorder.named("gke-gpu-node-pool"))["nodeConfig"]["serviceAccount"]
    system = recorder.inputs(recorder.named("gke-system-pool"))["nodeConfig"]["serviceAccount"]
    assert recorder.inputs(fw)["targetServiceAccounts"] == [gpu] == [system]
    assert recorder.inputs(fw)["allows"] == [{"protocol": "tcp", "ports": ["4443", "9443"]}]


def test_without_ports_the_substrate_opens_nothing_beyond_gkes_own_rule(recorder):
    recorder.run(lambda: build_gke("gke", "t", substrate(), POOL))
    assert recorder.of_type(FIREWALL) == []


def test_the_api_endpoint_choice_reaches_the_cluster(recorder):
    recorder.run(lambda: build_gke("gke", "t", substrate(api_endpoint=ApiEndpoint.PRIVATE,
                                                         master_authorized_cidrs=("10.0.0.0/8",)), POOL))
    (cluster,) = recorder.of_type(CLUSTER)
    assert recorder.inputs(cluster)["privateClusterConfig"]["enablePrivateEndpoint"] is True


def test_the_workload_identity_binding_waits_for_the_cluster_that_creates_its_pool(recorder):
    def build():
        sub = substrate()
        built = build_gke("gke", "t", sub, POOL)
        budget_backup_writer("t", sub, "gs://acme-backups/db", namespace=naming.NS_TENANT_GATEWAY,
                             service_account=BUDGET_DB, cluster=built.root)

    recorder.run(build)
    (cluster,) = recorder.of_type(CLUSTER)
    wi = recorder.named("tenant-gateway-backup-wi")
    assert cluster.urn in wi.dependencies
    assert recorder.inputs(wi)["member"] == \
        f"serviceAccount:acme-llm-test.svc.id.goog[{naming.NS_TENANT_GATEWAY}/{BUDGET_DB}]"
    # Still a top-level resource (not reparented under the cluster), so its URN is unchanged.
    assert recorder.named("tenant-gateway-backup-sa").parent == wi.parent != recorder.named("gke").urn


def plan_of(planned, stack: str) -> dict:
    return json.loads((planned(stack) / "plan.json").read_text())


def resource(plan: dict, name: str) -> dict:
    (found,) = [r for r in plan["resources"] if r["name"] == name]
    return found


def test_the_prod_plan_records_that_the_binding_depends_on_the_cluster(planned):
    plan = plan_of(planned, "prod")
    cluster, wi = resource(plan, "gke-cluster"), resource(plan, "tenant-gateway-backup-wi")
    assert cluster["urn"] in wi["options"]["dependsOn"]
    assert wi["urn"] == ("urn:pulumi:prod::llm-platform::pulumi:pulumi:Stack$"
                         "gcp:serviceaccount/iAMMember:IAMMember::tenant-gateway-backup-wi")


def test_the_prod_kubeconfig_names_an_address_its_authorized_networks_reach(planned):
    plan = plan_of(planned, "prod")
    inputs = resource(plan, "gke-cluster")["inputs"]
    endpoint = ipaddress.ip_address(plan["outputs"]["kubeApiEndpoint"])
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert endpoint in ipaddress.ip_network(inputs["privateClusterConfig"]["masterIpv4CidrBlock"])
    blocks = inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"]
    authorized = [ipaddress.ip_network(b["cidrBlock"]) for b in blocks]
    assert authorized and all(net.is_private for net in authorized), "runners inside the VPC reach a private endpoint"


def test_the_dev_kubeconfig_names_the_public_endpoint_open_to_any_runner(planned):
    plan = plan_of(planned, "dev")
    inputs = resource(plan, "gke-cluster")["inputs"]
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert "masterAuthorizedNetworksConfig" not in inputs
    assert plan["outputs"]["kubeApiEndpoint"] == "203.0.113.10"
