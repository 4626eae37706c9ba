"""The GKE substrate builder under recording mocks and in the offline plan: the control-plane firewall
reaches every node pool, the Workload Identity binding waits for the pool its cluster creates, the
budget-backup identity keeps its resources' URNs as aliases, and the plan records which API endpoint
the kubeconfig uses."""

from __future__ import annotations

import ipaddress
import json

from llmplatform import naming
from llmplatform.config import GkeSubstrate, GpuPoolSpec
from llmplatform.config.model import ApiEndpoint, CertificateKind, EdgeCertificate, ExposureMode, TenantExposure
from llmplatform.gateway.workloads import BUDGET_DB
from substrates.base import BackupWriter
from substrates.gke import build_gke
from substrates.gke.budget_backup import TYPE as BUDGET_BACKUP

ZONES = ("us-central1-a", "us-central1-b")
CLUSTER = "gcp:container/cluster:Cluster"
FIREWALL = "gcp:compute/firewall:Firewall"


def substrate(**overrides) -> GkeSubstrate:
    return GkeSubstrate(**{**dict(kind="gke", project="acme-llm-test", region="us-central1", zones=ZONES,
                                  deletion_protection=False), **overrides})


POOL = GpuPoolSpec(accelerator="nvidia-l4", machine_type="g2-standard-8", min_nodes=0, max_nodes=1)
WRITER = BackupWriter(bucket="gs://acme-backups/db", namespace=naming.NS_TENANT_GATEWAY, service_account=BUDGET_DB)


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
        return build_gke("gke", "t", substrate(), POOL, backup_writer=WRITER)

    built = recorder.run(build)
    (cluster,) = recorder.of_type(CLUSTER)
    wi = recorder.named("tenant-gateway-backup-wi")
    assert cluster.urn in wi.dependencies
    assert recorder.inputs(wi)["member"] == \
        f"serviceAccount:acme-llm-test.svc.id.goog[{naming.NS_TENANT_GATEWAY}/{BUDGET_DB}]"
    # Not reparented under the cluster: the identity's own component holds it (aliases keep its URN).
    assert recorder.named("tenant-gateway-backup-sa").parent == wi.parent != recorder.named("gke").urn
    assert recorder.resolve(built.backup_identity)[0] == "llmp-t-budget-backup@acme-llm-test.iam.gserviceaccount.com"


def test_the_backup_identity_is_one_component_whose_children_answer_to_their_top_level_urns(recorder):
    recorder.run(lambda: build_gke("gke", "t", substrate(), POOL, backup_writer=WRITER))
    (root,) = recorder.of_type(BUDGET_BACKUP)
    children = recorder.children_of(root)
    assert root.name == "tenant-gateway-backup" and root.parent.endswith("::pulumi:pulumi:Stack::llm-platform-test")
    assert sorted(c.name for c in children) == [f"tenant-gateway-backup-{r}" for r in ("bucket", "sa", "wi")]
    for child in children:
        top_level = recorder.monitor.make_urn(recorder.monitor.stack_urn, child.type, child.name)
        assert child.aliases == [top_level]


def test_without_a_backup_writer_there_is_no_identity(recorder):
    built = recorder.run(lambda: build_gke("gke", "t", substrate(), POOL))
    assert built.backup_identity is None and recorder.of_type(BUDGET_BACKUP) == []


def test_private_nodes_put_the_kubernetes_api_in_the_control_planes_range(recorder):
    private = recorder.run(lambda: build_gke("gke", "t", substrate(master_ipv4_cidr="172.16.0.48/28"), POOL))
    assert private.kube_api_cidrs == ("172.16.0.48/28",)
    public = recorder.run(lambda: build_gke("gke2", "u", substrate(private_nodes=False), POOL))
    assert public.kube_api_cidrs == ()


def plan_of(planned, stack: str) -> dict:
    return json.loads((planned(stack) / "plan.json").read_text())


def resource(plan: dict, name: str) -> dict:
    (found,) = [r for r in plan["resources"] if r["name"] == name]
    return found


def test_the_prod_plan_records_that_the_binding_depends_on_the_cluster(planned):
    plan = plan_of(planned, "prod")
    cluster, wi = resource(plan, "gke-cluster"), resource(plan, "tenant-gateway-backup-wi")
    assert cluster["urn"] in wi["options"]["dependsOn"]
    # Its URN before BudgetBackupIdentity (a top-level resource) is an alias, so the stack keeps it.
    assert ("urn:pulumi:prod::llm-platform::pulumi:pulumi:Stack$"
            "gcp:serviceaccount/iAMMember:IAMMember::tenant-gateway-backup-wi") in wi["options"]["aliases"]


OLD_BACKUP_URNS = {
    "tenant-gateway-backup-sa":
        "urn:pulumi:prod::llm-platform::pulumi:pulumi:Stack$gcp:serviceaccount/account:Account::tenant-gateway-backup-sa",
    "tenant-gateway-backup-wi":
        "urn:pulumi:prod::llm-platform::pulumi:pulumi:Stack$gcp:serviceaccount/iAMMember:IAMMember::tenant-gateway-backup-wi",
    "tenant-gateway-backup-bucket": "urn:pulumi:prod::llm-platform::pulumi:pulumi:Stack$"
                                    "gcp:storage/bucketIAMMember:BucketIAMMember::tenant-gateway-backup-bucket",
}
"""The budget-backup resources' URNs in the prod plan before they had a component (plan_digests.json
before issue 16); a deployed prod stack holds them under these."""


def test_every_old_urn_of_the_backup_identity_is_an_alias_of_its_new_resource_in_the_prod_plan(planned):
    plan = plan_of(planned, "prod")
    urns = {r["urn"] for r in plan["resources"]}
    for name, old in OLD_BACKUP_URNS.items():
        new = resource(plan, name)
        assert new["parent"].endswith(f"{BUDGET_BACKUP}::tenant-gateway-backup")
        assert new["urn"] != old and old not in urns, "the old URN is free: only the alias claims it"
        assert new["options"]["aliases"] == [old]
    assert sorted(r["name"] for r in plan["resources"] if r["options"].get("aliases")) == sorted(OLD_BACKUP_URNS)


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


def _public(kind: str = "managed") -> TenantExposure:
    return TenantExposure(mode=ExposureMode.PUBLIC, client_cidrs=("203.0.113.0/24", "198.51.100.0/24"),
                          hostname="llm.example.com",
                          certificate=EdgeCertificate(kind=CertificateKind(kind),
                                                      secret_name="tls" if kind == "secret" else None))


def test_a_public_edge_gets_cloud_armor_a_proxy_firewall_on_litellms_port_and_a_managed_certificate(recorder):
    built = recorder.run(lambda: build_gke("gke", "t", substrate(), POOL, exposure=_public()))
    armor = recorder.named("tenant-edge-armor")
    rules = recorder.inputs(armor)["rules"]
    assert rules[0]["action"] == "allow" and rules[0]["match"]["config"]["srcIpRanges"] == [
        "203.0.113.0/24", "198.51.100.0/24"]
    assert rules[-1]["action"] == "deny(403)"
    fw = recorder.inputs(recorder.named("tenant-edge-firewall"))
    assert fw["sourceRanges"] == ["35.191.0.0/16", "130.211.0.0/22"]
    assert fw["allows"] == [{"protocol": "tcp", "ports": ["4000"]}]
    entry = recorder.inputs(recorder.named("tenant-edge-certmap-entry"))
    assert entry["hostname"] == "llm.example.com"
    assert recorder.named("tenant-edge-cert").parent == recorder.named("tenant-edge").urn
    assert built.edge is not None


def test_a_secret_certificate_or_an_internal_edge_needs_no_certificate_manager(recorder):
    recorder.run(lambda: build_gke("gke", "t", substrate(), POOL, exposure=_public("secret")))
    assert recorder.named("tenant-edge-armor") and not any(
        "certmap" in r.name or r.name.endswith("-cert") for r in recorder.registrations)


def test_an_internal_or_cluster_edge_creates_nothing_in_gcp(recorder):
    internal = TenantExposure(mode=ExposureMode.INTERNAL, client_cidrs=("10.128.0.0/16",))
    built = recorder.run(lambda: build_gke("gke", "t", substrate(), POOL, exposure=internal))
    assert built.edge is None and not any(r.name.startswith("tenant-edge") for r in recorder.registrations)
