"""GovernancePack under recording mocks: dormant means absent, enforced means rendered, untrusted adds
tenant namespaces; parents, providers, the recorded plan, and every input problem at once."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.errors import InputPropertiesError

from components.governance_pack import (
    CONTROL_PLAN_CONFIGMAP,
    CONTROL_PLAN_KEY,
    TYPE,
    GovernancePack,
    GovernancePackArgs,
)
from components.platform_namespaces import PlatformNamespaces, PlatformNamespacesArgs
from llmplatform import labels as L
from llmplatform import naming
from llmplatform.config import TrustTier
from llmplatform.controls.tiers import plan_controls
from llmplatform.controls.exemptions import sr2_exempt_namespaces
from llmplatform.controls.sr2_gpu_admission.kyverno import KYVERNO_CHART_REPO, KYVERNO_CHART_VERSION
from llmp.plan.render import is_manifest, manifest_of
from tests.support.gates import require_crd_schemas
from llmp.verify.manifests.core import validate_core
from llmp.verify.manifests.crd import validate_custom_resource
from tests.governance.conftest import capabilities, stack_config

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
VAP = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
VAPB = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"


def build(tier: str = "trusted", profile: str = "dev", *, cfg_overrides: dict | None = None,
          **overrides: Any):
    cfg = stack_config(tier, profile, **(cfg_overrides or {}))

    def run():
        provider = k8s.Provider("k8s", kubeconfig="{}")
        opts = pulumi.ResourceOptions(providers={"kubernetes": provider})
        # As the program does: the plan is made once, from the config and the substrate's capabilities.
        plan = plan_controls(trust_tier=overrides.pop("trust_tier", cfg.trust_tier), profile=cfg.profile,
                             capabilities=capabilities(cfg), governance=cfg.governance)
        namespaces = PlatformNamespaces("platform", PlatformNamespacesArgs(
            control_plan=plan, tenants=tuple(t.name for t in cfg.tenants)), opts=opts)
        args = dict(control_plan=plan, capabilities=capabilities(cfg),
                    tenants=cfg.tenants, governance=cfg.governance, tenant_gateway=cfg.tenant_gateway,
                    namespaces=namespaces,
                    sr2_exempt_namespaces=sr2_exempt_namespaces(cfg.governance.extra_exempt_namespaces))
        args.update(overrides)
        return GovernancePack("gov", GovernancePackArgs(**args), opts=opts)

    return run


def manifests(recorder, type_: str | None = None) -> list[dict]:
    return [manifest_of(r) for r in recorder.registrations if is_manifest(r) and (type_ is None or r.type == type_)]


def recorded_plan(recorder) -> dict:
    cm = next(m for m in manifests(recorder) if m["kind"] == "ConfigMap")
    assert cm["metadata"]["name"] == CONTROL_PLAN_CONFIGMAP and cm["metadata"]["namespace"] == naming.NS_SERVING
    return json.loads(cm["data"][CONTROL_PLAN_KEY])


def states(plan_json: dict) -> dict[str, str]:
    return {c["control"]: c["state"] for c in plan_json["controls"]}


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_trusted_renders_no_network_policy_and_no_identity_rule_and_the_cluster_says_dormant(recorder, monkeypatch):
    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lambda msg, *a, **kw: logged.append(msg))
    pack = recorder.run(build("trusted"))
    assert recorder.of_type(NETPOL) == []
    vaps = [m["metadata"]["name"] for m in manifests(recorder, VAP)]
    assert "llmplatform-sr2-gpu-queue" in vaps and not [n for n in vaps if n.startswith("llmplatform-sr1")]
    assert states(recorded_plan(recorder))["sr1-network"] == "dormant"
    assert recorded_plan(recorder) == pack.control_plan.as_json()
    assert any(line.startswith("SR1 network policies dormant on tier trusted") and "not applied" in line
               for line in logged)
    assert len(logged) == len(pack.control_plan.dormant)


def test_trusted_audits_sr2_in_both_renderings(recorder):
    recorder.run(build("trusted"))
    (binding,) = [b for b in manifests(recorder, VAPB) if b["spec"]["policyName"] == "llmplatform-sr2-gpu-queue"]
    assert binding["spec"]["validationActions"] == ["Audit"]
    (policy,) = manifests(recorder, "kubernetes:kyverno.io/v1:ClusterPolicy")
    assert policy["spec"]["rules"][0]["validate"]["failureAction"] == "Audit"


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_multi_team_prod_enforces_sr1_in_every_platform_namespace_and_denies_in_both_admission_rules(recorder):
    recorder.run(build("multi-team", "prod"))
    policies = manifests(recorder, NETPOL)
    by_ns: dict[str, set[str]] = {}
    for p in policies:
        by_ns.setdefault(p["metadata"]["namespace"], set()).add(p["metadata"]["name"])
    assert set(by_ns) == {naming.NS_SERVING, naming.NS_GATEWAY, naming.NS_TENANT_GATEWAY, naming.NS_MONITORING}
    assert by_ns[naming.NS_MONITORING] == {"sr1-default-deny", "sr1-allow-dns", "sr1-prometheus"}
    assert all({"sr1-default-deny", "sr1-allow-dns"} <= names for names in by_ns.values())
    assert by_ns[naming.NS_TENANT_GATEWAY] >= {"sr1-tenant-gateway", "sr1-budget-db", "sr1-budget-cache",
                                               "sr1-tenant-reconciler"}
    bindings = {b["spec"]["policyName"]: b["spec"]["validationActions"] for b in manifests(recorder, VAPB)}
    assert {n: a for n, a in bindings.items() if n != "llmplatform-sr2-exempt-names"} == {
        "llmplatform-sr1-identity": ["Deny"], "llmplatform-sr1-host-isolation": ["Deny"],
        "llmplatform-sr1-no-default-sa": ["Deny"], "llmplatform-sr2-gpu-queue": ["Deny"]}
    assert states(recorded_plan(recorder))["sr1-network"] == "enforced"


def test_the_identity_rule_names_the_service_account_the_tenant_gateway_reports(recorder):
    recorder.run(build("multi-team", litellm_service_account="litellm-proxy"))
    vap = next(m for m in manifests(recorder, VAP) if m["metadata"]["name"] == "llmplatform-sr1-identity")
    expression = vap["spec"]["validations"][0]["expression"]
    litellm = next(c for c in expression.split(" &&\n") if f"'{L.ROLE_TENANT_GATEWAY}'" in c)
    assert f"!= '{naming.NS_TENANT_GATEWAY}'" in litellm and litellm.endswith("in ['litellm-proxy']))")


def test_a_new_trusted_peer_without_an_identity_is_refused_by_the_pack(recorder, monkeypatch):
    from llmplatform.controls.sr1_network import render as sr1
    from llmplatform.k8s.networkpolicy import allow_from, match_labels, pod_peer, tcp

    real = sr1.monitoring_policies

    def with_grafana(facts, scraped):
        policies = real(facts, scraped)
        policies[-1]["spec"]["ingress"].append(
            allow_from([pod_peer(naming.NS_MONITORING, match_labels({L.NAME: "grafana"}))], tcp(9090)))
        return policies

    monkeypatch.setattr(sr1, "monitoring_policies", with_grafana)
    with pytest.raises(InputPropertiesError) as err:
        recorder.run(build("multi-team"))
    reasons = [e["reason"] for e in err.value.errors if e["property_path"] == "sr1 identity"]
    assert reasons and "app.kubernetes.io/name=grafana in namespace monitoring" in reasons[0]


def test_no_namespace_the_platform_creates_allows_host_access(recorder):
    recorder.run(build("untrusted"))
    levels = {m["metadata"]["name"]: m["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
              for m in manifests(recorder, "kubernetes:core/v1:Namespace")}
    assert levels and set(levels.values()) <= {"baseline", "restricted"}, levels
    assert levels[naming.NS_MONITORING] == "restricted"


def test_kyverno_is_a_pinned_release_ha_on_prod_and_the_cluster_policy_waits_for_it(recorder):
    recorder.run(build("multi-team", "prod"))
    release = recorder.named("gov-kyverno")
    assert release.type == "kubernetes:helm.sh/v3:Release"
    inputs = recorder.inputs(release)
    assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]) == (
        "kyverno", KYVERNO_CHART_VERSION, {"repo": KYVERNO_CHART_REPO})
    assert inputs["namespace"] == naming.NS_KYVERNO
    values = inputs["values"]
    assert values["admissionController"]["replicas"] == 3
    assert values["features"]["policyExceptions"] == {"enabled": False}
    assert values["features"]["generateValidatingAdmissionPolicy"] == {"enabled": False}
    assert release.urn in recorder.named("gov-sr2-kyverno-policy").dependencies
    assert not [r for r in recorder.registrations if r.type == "kubernetes:helm.sh/v3:Chart"]


def test_dev_runs_one_kyverno_admission_controller_replica(recorder):
    recorder.run(build("trusted"))
    assert recorder.inputs(recorder.named("gov-kyverno"))["values"]["admissionController"]["replicas"] == 1


def test_without_kyverno_only_the_native_sr2_rule_exists(recorder):
    recorder.run(build("multi-team", cfg_overrides={"governance": {"kyverno": False}}))
    names = {r.name for r in recorder.registrations}
    assert "gov-kyverno" not in names and "gov-sr2-kyverno-policy" not in names
    assert {"gov-sr2-policy", "gov-sr2-binding"} <= names


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_untrusted_renders_quota_rbac_and_default_deny_in_every_tenant_namespace(recorder):
    recorder.run(build("untrusted"))
    objs = manifests(recorder)
    for tenant, gpus in (("search", 1), ("support", 0)):
        ns = naming.tenant_namespace(tenant)
        here = {(o["kind"], o["metadata"]["name"]): o for o in objs if o["metadata"].get("namespace") == ns}
        assert here[("ResourceQuota", "tenant-quota")]["spec"]["hard"]["requests.nvidia.com/gpu"] == str(gpus)
        assert ("LimitRange", "tenant-defaults") in here
        assert here[("Role", "tenant-key-reader")]["rules"][0]["resourceNames"] == [f"tenant-{tenant}-key"]
        assert here[("RoleBinding", "tenant-key-reader")]["subjects"][0]["name"] == f"llmplatform:tenant:{tenant}"
        assert {("NetworkPolicy", n) for n in ("sr1-default-deny", "sr1-allow-dns", "sr1-tenant-egress")} <= set(here)
    assert states(recorded_plan(recorder))["tenant-namespaces"] == "enforced"


def test_children_are_parented_to_the_pack_use_the_given_provider_and_wait_for_their_namespaces(recorder):
    recorder.run(build("untrusted"))
    root, provider = recorder.named("gov"), recorder.named("k8s")
    assert root.type == TYPE == "llmplatform:governance_pack:GovernancePack"
    ours = [r for r in recorder.registrations if r.name.startswith("gov-")]
    assert len(ours) > 30
    for reg in ours:
        assert reg.parent == root.urn, reg.name
        assert reg.provider == provider.urn, reg.name
    serving_ns = recorder.named("platform-serving").urn
    assert serving_ns in recorder.named("gov-control-plan").dependencies
    deny = recorder.named(f"gov-netpol-{naming.tenant_namespace('search')}-sr1-default-deny")
    assert recorder.named("platform-tenant-search").urn in deny.dependencies


def test_the_pack_refuses_sr1_where_network_policy_is_not_enforced_and_reports_every_problem(recorder):
    cfg = stack_config("multi-team")
    no_np = capabilities(cfg, network_policy_enforced=False)
    with pytest.raises(InputPropertiesError) as err:
        recorder.run(build("multi-team", capabilities=no_np, fail_closed=True,
                           sr2_exempt_namespaces=("kube-system", naming.NS_SERVING), tenant_group_format="g"))
    problems = {e["property_path"]: e["reason"] for e in err.value.errors}
    assert "paper control" in problems["capabilities.network_policy_enforced"]
    assert "paper control" in problems["sr2_exempt_namespaces"]
    assert "fail_closed" in problems and "tenant_group_format" in problems
    assert recorder.of_type(NETPOL) == []


def test_the_pack_checks_the_tenant_gateway_against_the_plans_sr3_decision(recorder):
    from llmplatform.config.model import TenantGatewaySpec

    weak = TenantGatewaySpec(replicas=2, redis=False, postgres_instances=1, backup_bucket="gs://b")
    with pytest.raises(InputPropertiesError) as err:
        recorder.run(build("multi-team", "prod", tenant_gateway=weak))
    reasons = " ".join(e["reason"] for e in err.value.errors)
    assert "SR3" in reasons and "instance" in reasons and "Redis" in reasons


def test_prod_on_the_trusted_tier_is_refused_by_the_pack_too(recorder):
    cfg = stack_config("multi-team", "prod")
    with pytest.raises(InputPropertiesError, match="at least multi-team"):
        recorder.run(build("multi-team", "prod", trust_tier=TrustTier.TRUSTED, tenants=cfg.tenants))


@pytest.mark.parametrize(("tier", "profile"), [("trusted", "dev"), ("multi-team", "prod"), ("untrusted", "dev")])
def test_every_rendered_object_is_strictly_valid_against_kubernetes_and_upstream_crd_schemas(recorder, tier, profile):
    schemas = require_crd_schemas()
    recorder.run(build(tier, profile))
    findings = []
    for reg in recorder.registrations:
        if reg.name.startswith("gov-") and is_manifest(reg):
            doc = manifest_of(reg)
            findings += validate_core(doc, strict=True)
            findings += validate_custom_resource(doc, schema_dir=schemas, strict=True)
    assert findings == []


def test_the_control_plan_is_a_stack_facing_output_and_labels_record_the_tier(recorder):
    pack = recorder.run(build("untrusted"))
    cm = next(m for m in manifests(recorder) if m["kind"] == "ConfigMap")
    assert cm["metadata"]["labels"][L.TRUST_TIER] == "untrusted"
    assert pack.control_plan.trust_tier == TrustTier.UNTRUSTED
    assert set(pack.network_policies) >= {f"{naming.NS_SERVING}/sr1-model-server", "tenant-search/sr1-tenant-egress"}
