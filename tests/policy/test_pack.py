"""The CrossGuard pack on real plans: clean plans pass, every planted violation is caught by its own policy
at the level the pack config chooses, and the in-process and gRPC runners report the same findings."""

from __future__ import annotations

import json
import time

import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from llmp.plan.crossguard import POLICY_EXIT_CODE, has_mandatory, run_policies, write_policy_json
from llmp.plan.crossguard import pack_config
from llmp.plan.crossguard.findings import ADVISORY, MANDATORY, NOT_APPLICABLE
from llmp.plan.crossguard.grpc_runner import run_grpc_detailed
from tests.policy import plans
from tests.policy.conftest import CONFIGS, DEV_CONFIG, PACK, PROD_CONFIG
from tests.policy.plants import PLANTS, planted

RULES = pack_config.load_rules(PACK)
NAMES = [p.name for p in RULES.ALL_POLICIES]


def violations(findings):
    return [f for f in findings if f.enforcement != NOT_APPLICABLE]


# ---------------------------------------------------------------- the pack itself


def test_importing_the_rules_builds_no_pack(monkeypatch):
    import pulumi_policy

    monkeypatch.setattr(pulumi_policy.PolicyPack, "__init__", lambda *a, **k: pytest.fail("a pack was built"))
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("rules_again", PACK / "rules" / "__init__.py",
                                                  submodule_search_locations=[str(PACK / "rules")])
    module = importlib.util.module_from_spec(spec)
    sys.modules["rules_again"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["rules_again"]
    assert [p.name for p in module.ALL_POLICIES] == NAMES


def test_policy_names_are_unique_and_every_policy_is_a_crossguard_policy():
    assert len(NAMES) == len(set(NAMES)) == 13
    assert all(isinstance(p, ResourceValidationPolicy | StackValidationPolicy) for p in RULES.ALL_POLICIES)


@pytest.mark.parametrize("stack,level", [("dev", "advisory"), ("prod", "mandatory")])
def test_each_pack_config_names_every_policy_with_an_explicit_level(stack, level):
    config = json.loads(CONFIGS[stack].read_text())
    assert sorted(config) == sorted(NAMES)
    assert {entry["enforcementLevel"] for entry in config.values()} == {level}


def test_prod_config_pins_the_prod_profile_on_every_profile_dependent_policy():
    config = json.loads(PROD_CONFIG.read_text())
    takes_profile = {p.name for p in RULES.ALL_POLICIES if p.config_schema and "profile" in p.config_schema.properties}
    assert takes_profile == {n for n, e in config.items() if e.get("profile") == "prod"}
    assert not any("profile" in e for e in json.loads(DEV_CONFIG.read_text()).values())


def test_the_pack_config_for_a_stack_is_its_own_else_its_profiles():
    assert pack_config.config_file_for("prod", "prod") == PROD_CONFIG
    assert pack_config.config_file_for("vast", "dev") == DEV_CONFIG
    assert pack_config.config_file_for("elsewhere", None) == PROD_CONFIG


# ---------------------------------------------------------------- clean plans


def test_a_clean_dev_plan_has_no_mandatory_findings(plan_doc, run):
    findings = run(plan_doc("dev"), DEV_CONFIG)
    assert not has_mandatory(findings)
    assert not violations(findings), findings


def test_dormant_controls_on_dev_are_reported_not_applicable_with_a_reason(plan_doc, run):
    findings = run(plan_doc("dev"), DEV_CONFIG)
    not_applicable = {f.policy: f.message for f in findings if f.enforcement == NOT_APPLICABLE}
    assert {"sr1-default-deny", "sr1-identity-rule", "sr2-admission-enforced"} <= set(not_applicable)
    assert "dormant" in not_applicable["sr1-default-deny"] and "audit" in not_applicable["sr2-admission-enforced"]


def test_a_clean_prod_plan_has_no_findings_at_all(plan_doc, run):
    doc = plan_doc("prod")
    if not plans.governance_component_rendered(doc):
        pytest.xfail("GovernancePack does not render into the plan yet (no SR1/SR2 controls to find)")
    assert run(doc, PROD_CONFIG) == []


def test_the_real_prod_plan_with_the_governance_baseline_has_no_findings_at_all(plan_doc, run):
    assert run(plans.governed(plan_doc("prod")), PROD_CONFIG) == []


def test_the_prod_pack_config_ignores_dormancy_on_a_dev_plan(plan_doc, run):
    findings = run(plan_doc("dev"), PROD_CONFIG)
    failed = {f.policy for f in findings if f.enforcement == MANDATORY}
    assert {"sr1-default-deny", "sr1-identity-rule", "sr2-admission-enforced", "sr3-prod-fails-closed",
            "sr3-prod-budget-db-ha"} <= failed


# ---------------------------------------------------------------- planted violations


@pytest.fixture(scope="module")
def prod_baseline(plan_doc, stack_cfg, tmp_path_factory):
    from llmp.plan.crossguard.inprocess import run_in_process

    path = plans.save(plans.governed(plan_doc("prod")), tmp_path_factory.mktemp("baseline") / "plan.json")
    return {stack: set(run_in_process(path, CONFIGS[stack], stack_config=stack_cfg("prod"))) for stack in CONFIGS}


@pytest.mark.parametrize("config_name,level", [("prod", MANDATORY), ("dev", ADVISORY)])
@pytest.mark.parametrize("plant_id", list(PLANTS))
def test_each_planted_violation_is_caught_by_its_policy_at_the_configured_level(
        plant_id, config_name, level, plan_doc, run, prod_baseline):
    expected_policy = PLANTS[plant_id][1]
    findings = set(run(planted(plan_doc("prod"), plant_id), CONFIGS[config_name]))
    new = findings - prod_baseline[config_name]
    assert new, f"{plant_id} was not caught"
    assert {f.policy for f in new} == {expected_policy}, new
    assert {f.enforcement for f in new} == {level}


def test_findings_name_the_offending_resource(plan_doc, run):
    findings = run(planted(plan_doc("prod"), "cnpg-one-instance", "gpu-pod-init-container-unqueued"), PROD_CONFIG)
    by_policy = {f.policy: f for f in findings}
    assert by_policy["sr3-prod-budget-db-ha"].resource.endswith("Cluster::tenant-gateway-db")
    assert by_policy["sr2-gpu-workloads-queued"].resource.endswith("::planted-gpu-pod")
    assert "initContainers[warm]" in by_policy["sr2-gpu-workloads-queued"].message


def test_a_control_plan_that_enforces_sr1_on_dev_makes_its_checks_apply(plan_doc, run):
    doc = plan_doc("dev")
    control_plan = {"trustTier": "multi-team", "profile": "dev",
                    "controls": [{"control": "sr1-network", "state": "enforced", "reason": "planted"}]}
    plans.remove_objects(doc, lambda o: o["kind"] == "ConfigMap" and "controls" in json.dumps(o.get("data") or {}))
    plans.add_object(doc, "governance-control-plan", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "governance-control-plan", "namespace": "llm-serving"},
        "data": {"control-plan.json": json.dumps(control_plan)}})
    findings = run(doc, DEV_CONFIG)
    default_deny = [f for f in findings if f.policy == "sr1-default-deny"]
    assert default_deny and {f.enforcement for f in default_deny} == {ADVISORY}
    identity = [f for f in findings if f.policy == "sr1-identity-rule"]
    assert [f.enforcement for f in identity] == [ADVISORY], "no ControlPlan entry: the trusted tier's meaning holds"


# ---------------------------------------------------------------- the two runners


@pytest.mark.parametrize("config_name", ["dev", "prod"])
@pytest.mark.parametrize("variant", ["dev-clean", "prod-clean", "prod-governed", "prod-all-planted"])
def test_in_process_and_grpc_runners_report_identical_findings(variant, config_name, plan_doc, run):
    stack, _, kind = variant.partition("-")
    doc = plan_doc(stack)
    if kind == "governed":
        doc = plans.governed(doc)
    elif kind == "all-planted":
        doc = planted(doc, *[p for p in PLANTS if p != "datapath-unset"])
    in_process = run(doc, CONFIGS[config_name])
    grpc = run(doc, CONFIGS[config_name], runner="grpc")
    assert in_process == grpc
    if kind == "all-planted":
        assert {f.policy for f in grpc if f.enforcement != NOT_APPLICABLE} == set(NAMES)


def test_grpc_configure_always_sends_explicit_levels(plan_doc, run, tmp_path):
    # An entry with properties only: the CLI fills in the policy's own level (mandatory on a prod stack);
    # sent without one, the analyzer would silently downgrade the policy to advisory.
    config = tmp_path / "partial.json"
    config.write_text(json.dumps({"sr1-default-deny": {"profile": "prod"}}))
    findings = run(planted(plan_doc("prod"), "drop-default-deny"), config, runner="grpc")
    assert {f.enforcement for f in findings if f.policy == "sr1-default-deny"} == {MANDATORY}


def test_the_grpc_run_starts_the_real_pack_process_and_stops_it(planned, stack_cfg):
    run = run_grpc_detailed(planned("prod") / "plan.json", PROD_CONFIG, stack_config=stack_cfg("prod"))
    assert "Traceback" not in run.stderr, run.stderr
    assert has_mandatory(run.findings) or run.findings == []


def test_run_policies_picks_the_stack_config_and_both_runners_take_about_a_second(planned):
    timings = {}
    results = {}
    for runner in ("in-process", "grpc"):
        start = time.perf_counter()
        results[runner] = run_policies(planned("prod") / "plan.json", "prod", runner=runner)
        timings[runner] = time.perf_counter() - start
    assert results["in-process"] == results["grpc"]
    assert timings["in-process"] < 5 and timings["grpc"] < 15, timings


def test_policy_json_lists_findings_and_says_whether_the_run_passed(plan_doc, run, tmp_path):
    findings = run(planted(plan_doc("prod"), "cnpg-one-instance"), PROD_CONFIG)
    path = write_policy_json(findings, tmp_path / "policy.json", stack="prod", runner="in-process")
    doc = json.loads(path.read_text())
    assert doc["passed"] is False and doc["summary"][MANDATORY] >= 1
    assert set(doc["findings"][0]) == {"policy", "enforcement", "resource", "message"}
    assert POLICY_EXIT_CODE not in (0, 1, 2, 3)


def test_a_pack_config_naming_an_unknown_policy_or_property_is_rejected(plan_doc, run, tmp_path):
    for bad in ({"sr9-nothing": "mandatory"}, {"sr1-dataplane-v2": {"profile": "prod"}},
                {"sr1-default-deny": {"enforcementLevel": "strict"}}):
        config = tmp_path / "bad.json"
        config.write_text(json.dumps(bad))
        with pytest.raises(pack_config.PackConfigError):
            run(plan_doc("dev"), config)


# ---------------------------------------------------------------- the public edge


def test_the_public_stacks_gateway_edge_passes_and_a_route_past_litellm_fails_the_edge_rule(plan_doc, run):
    """The public stack's GKE Gateway (a cloud load balancer) sends only to LiteLLM; pointed at the inference
    gateway's Service, the mandatory prod rule refuses it, naming the route."""
    edge_findings = lambda doc: [f for f in run(doc, PROD_CONFIG)  # noqa: E731
                                 if f.policy == "edge-only-litellm-exposed" and f.enforcement != NOT_APPLICABLE]
    doc = plan_doc("public")
    assert edge_findings(doc) == []
    route = plans.find(doc, "HTTPRoute", lambda o: o["metadata"]["name"] == "tenant-edge")
    route["spec"]["rules"][0]["backendRefs"] = [{"kind": "Service", "name": "inference-gateway-istio",
                                                 "namespace": "llm-gateway", "port": 80}]
    [finding] = edge_findings(doc)
    assert finding.enforcement == MANDATORY and "HTTPRoute llm-tenant-gateway/tenant-edge sends to" in finding.message
