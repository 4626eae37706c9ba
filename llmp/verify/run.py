"""`llmp verify <stack>`: run every proof on what `llmp plan` rendered and collect one result.

Each proof uses an engine we did not write (network-config-analyzer, cel-expr-python and cel-python,
jsonschema with the upstream CRD schemas, kubernetes-validate, checkov) on the rendered objects,
and compares them with statements written from the label and port contracts, not from the rendering.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmplatform import labels
from llmplatform.controls import registry
from llmplatform.controls.exemptions import sr2_exempt_namespaces
from llmp.verify import memo
from llmp.plan.leaks import mock_secrets_for, scan_for_leaks
from llmp.plan.render import load_manifests
from llmplatform.controls.sr3_fail_closed.predicates import facts_from_objects, sr3_violations

PASS, FAIL, DORMANT = "pass", "fail", "dormant"
LIVE_RESULTS = Path("build") / "live" / "sr3-live.json"
"""Written by the live TenantGateway tests (tests/live); referenced by the SR3 section of the report."""


def in_ci() -> bool:
    """CI=true: nothing may go unchecked (a missing chart or schema fails instead of being listed)."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Proof:
    name: str
    title: str
    status: str
    summary: str
    problems: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class VerifyReport:
    stack: str
    profile: str
    trust_tier: str
    proofs: list[Proof]

    @property
    def passed(self) -> bool:
        return all(p.status != FAIL for p in self.proofs)

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack, "profile": self.profile, "trustTier": self.trust_tier, "passed": self.passed,
            "proofs": [{"name": p.name, "title": p.title, "status": p.status, "summary": p.summary,
                        "problems": p.problems, "data": p.data, "seconds": round(p.seconds, 2)} for p in self.proofs],
        }


def _timed(fn, *args, **kwargs) -> Proof:
    start = time.perf_counter()
    proof = fn(*args, **kwargs)
    proof.seconds = time.perf_counter() - start
    return proof


def prove_network(objects: list[dict[str, Any]], trust_tier: str, out_dir: Path) -> Proof:
    from llmp.verify.matrix import connectivity_matrix, render_png
    from llmp.verify.routes import prove_routes, table_lines
    from llmp.verify.sr1 import prove_sr1

    matrix = connectivity_matrix(objects)
    png = render_png(matrix, out_dir / "connectivity.png", f"Who can connect to which platform service ({trust_tier})")
    routes = prove_routes(objects)
    data: dict[str, Any] = {"matrix": str(png.name),
                            "allowed": sorted(f"{s} -> {d}: {c}" for (s, d), c in matrix.cells.items()),
                            "vllmRoutes": {"servers": routes.servers, "routes": routes.rows,
                                           "table": table_lines(routes), "problems": routes.problems}}
    if trust_tier == "trusted":
        return Proof("sr1", "SR1 network path (network-config-analyzer)", DORMANT,
                     "dormant on the trusted tier: no NetworkPolicies are applied, so nothing is proved", data=data)
    result = memo.call("sr1", prove_sr1, objects)  # reads only `objects`: identical objects are proved once
    problems = [f"{q.kind} query {q.name} failed: {q.description}\n{q.detail}" for q in result.queries if not q.passed]
    problems += [f"analyzer warning treated as failure: {w}" for w in result.warnings]
    problems += [f"vLLM routes: {p}" for p in routes.problems]
    data.update(queries=[{"name": q.name, "kind": q.kind, "passed": q.passed, "description": q.description}
                         for q in result.queries],
                probePods=result.probe_pods, namespaces=result.namespaces, engine=f"nca {result.nca_version}")
    summary = (f"{sum(q.passed for q in result.queries)}/{len(result.queries)} queries hold over "
               f"{result.probe_pods} probe pods in {result.namespaces} namespaces (nca {result.nca_version})")
    open_routes = [r for r in routes.rows if r["served"] and not r["guarded"] and not r["readOnly"]]
    summary += (f"; vLLM {len(routes.rows)} routes, {len(open_routes)} acting without its key, "
                + ("none reachable but by the inference gateway, which forwards only guarded paths" if not routes.problems
                   else f"{len(routes.problems)} route problem(s)"))
    return Proof("sr1", "SR1 network path (network-config-analyzer)", FAIL if problems else PASS, summary, problems, data)


def prove_admission(objects: list[dict[str, Any]], trust_tier: str, extra_exempt: tuple[str, ...], *,
                    cel_python_sample: int | None = 2000,
                    substrate: dict[str, Any] | None = None, stride: int = 1) -> Proof:
    """SR2: the rendered CEL on two engines against the independent statement, with Kueue's scope read
    from its rendered chart and the substrate's GPU taint and runtime class from the plan's
    `substrateCapabilities`; and no exempt name the platform does not create can be claimed.
    `stride`: evaluate every n-th generated shape only (tests; `llmp verify` evaluates all)."""
    from llmp.verify.sr2 import prove_sr2
    from llmp.verify.sr2.exempt_names import exempt_names_from_vap, prove_exempt_names
    from llmp.verify.sr2.kueue import read_kueue_config
    from llmp.verify.sr2.oracle import GpuReach

    title = "SR2 GPU admission (cel-expr-python, cel-python)"
    policies = [o for o in objects if o.get("kind") == "ClusterPolicy"]
    vaps = [o for o in objects if o.get("kind") == "ValidatingAdmissionPolicy"
            and "kueue.x-k8s.io/queue-name" in json.dumps(o.get("spec", {}))]
    bindings = [o for o in objects if o.get("kind") == "ValidatingAdmissionPolicyBinding"
                and any(o.get("spec", {}).get("policyName") == v["metadata"]["name"] for v in vaps)]
    missing = [what for what, found in (("Kyverno ClusterPolicy", policies), ("ValidatingAdmissionPolicy", vaps),
                                        ("ValidatingAdmissionPolicyBinding", bindings)) if len(found) != 1]
    if missing:
        return Proof("sr2", title, FAIL, f"expected exactly one of each rendered SR2 object; not found: {missing}",
                     [f"missing or ambiguous: {m}" for m in missing])
    substrate = substrate or {}
    system = tuple(substrate.get("systemNamespaces") or ()) or None
    exempt = sr2_exempt_namespaces(extra_exempt, system_namespaces=system) if system else \
        sr2_exempt_namespaces(extra_exempt)
    reach = GpuReach(taint_key=substrate.get("gpuTaintKey"), runtime_class=substrate.get("runtimeClassName")) \
        if substrate else None
    kueue, kueue_problems = read_kueue_config(objects)
    gpu_workloads = [o for o in objects if o.get("kind") in ("Deployment", "StatefulSet", "Job", "CronJob", "Pod",
                                                             "LeaderWorkerSet")]
    enforce = trust_tier != "trusted"
    # Deterministic in its explicit inputs: with LLMP_VERIFY_CACHE set, identical inputs are proved once.
    proof = memo.call("sr2", prove_sr2, policies[0], vaps[0], bindings[0], enforce=enforce,
                      exempt_namespaces=exempt, extra_objects=gpu_workloads, kueue=kueue, reach=reach,
                      cel_python_sample=cel_python_sample, stride=stride)
    problems = [f"{m.rendering} ({m.engine}): {m.problem} on {m.count} shape(s), e.g. {m.example}"
                + (f" ({m.detail})" if m.detail else "") for m in proof.mismatches]
    problems += [f"structural: {p}" for p in proof.structural_problems]
    problems += [f"structural: {p}" for p in kueue_problems]
    problems += [f"the platform's own {e.kind}/{e.namespace}/{e.name} "
                 + (f"would be {'denied' if e.blocked_by else 'reported'} by {', '.join(e.flagged_by)}"
                    if e.flagged_by else "is admitted")
                 + (f"; it breaks SR2 ({e.oracle_reason})" if e.oracle_violation else " although SR2 allows it")
                 for e in proof.extras_flagged]
    owned = sorted({str((o.get("metadata") or {}).get("name")) for o in objects if o.get("kind") == "Namespace"})
    names, name_problems = prove_exempt_names(objects, exempt_names_from_vap(vaps[0]), owned, enforce=enforce)
    problems += [f"exempt names: {p}" for p in name_problems]
    data = {"shapes": proof.shapes, "violatingShapes": proof.violating_shapes, "celPythonShapes": proof.cel_python_shapes,
            "evaluations": proof.evaluations, "engines": dict(proof.engine_versions),
            "evalsPerSecond": round(proof.evals_per_second), "platformWorkloadsChecked": len(gpu_workloads),
            "mode": "enforce" if enforce else "audit",
            "kueueScope": {"source": kueue.source, "namespaceSelector": kueue.namespace_selector,
                           "frameworks": list(kueue.frameworks)} if kueue else None,
            "gpuReach": {"taintKey": reach.taint_key, "runtimeClass": reach.runtime_class} if reach else None,
            "exemptNames": [{"name": v.name, "ownedByPlatform": v.owned, "deniedBy": list(v.denied_by),
                             "reportedBy": list(v.reported_by)} for v in names]}
    summary = proof.summary().splitlines()[0]
    refused = sum(1 for v in names if v.denied_by or v.reported_by)
    summary += (f"; Kueue's scope read from {kueue.source}" if kueue else "; Kueue's configuration not found") + \
        f"; {refused} exempt name(s) nobody may create"
    status = PASS if proof.ok and not problems else FAIL
    return Proof("sr2", title, status, summary, problems, data)


def prove_budgets(objects: list[dict[str, Any]], profile: str, project_dir: Path) -> Proof:
    """SR3 on prod: budgets fail closed. Off prod the same checks run (Redis wired for several replicas),
    but budgets fail open by design, so the proof is titled that way and a pass is `dormant`, never a
    "fail closed: PASS" (verify.json, report.md and the terminal say the same)."""
    title = "SR3 budgets fail closed" if profile == "prod" else f"SR3 budgets: {profile} fails open (documented)"
    facts = facts_from_objects(objects, tenant_gateway_role=labels.ROLE_TENANT_GATEWAY,
                               budget_cache_role=labels.ROLE_BUDGET_CACHE)
    if facts is None:
        return Proof("sr3", title, FAIL, "no LiteLLM config found in the manifests", ["LiteLLM config not rendered"])
    problems = [p.reason for p in sr3_violations(facts, fail_closed_required=profile == "prod")]
    data: dict[str, Any] = {"facts": facts.__dict__}
    live = project_dir / LIVE_RESULTS
    if live.exists():
        data["live"] = json.loads(live.read_text())
    summary = ("prod fails closed: " if profile == "prod" else "dev fails open (documented): ") + (
        f"allow_requests_on_db_unavailable={facts.allow_requests_on_db_unavailable}, "
        f"fail_closed_budget_enforcement={facts.fail_closed_budget_enforcement}, "
        f"{facts.postgres_instances} Postgres instance(s), {facts.gateway_replicas} LiteLLM replica(s), "
        f"Redis {'wired' if facts.redis_wired else 'absent'}, key cache TTL {facts.key_cache_ttl_seconds}s")
    status = FAIL if problems else PASS if profile == "prod" else DORMANT
    return Proof("sr3", title, status, summary, problems, data)


def prove_validity(build_dir: Path, *, checkov: bool, trust_tier: str = "trusted") -> Proof:
    """Schemas (CRD and core, strict), checkov with the platform's accepted exceptions, secret scan: over the
    program's objects and every rendered chart's (what the API server would refuse beyond its schemas,
    such as a selector that misses its own pods, is the install proof's).

    `checkov=False` leaves checkov out (it takes ~10 s); the summary then says so. A custom resource with no
    schema anywhere (its CRD not among the rendered objects, no stored schema) is a failure when every chart
    was rendered and the stored schemas exist, or under CI=true; otherwise (a plain clone) it is listed as
    unchecked, with how to provide what is missing.
    """
    from llmp.charts.write import read_index
    from llmp.verify import vllm_flags
    from llmp.verify.manifests.crd import crd_schema_dir
    from llmp.verify.manifests.manifests import validate_all

    report = validate_all(build_dir / "manifests")
    charts = read_index(build_dir)
    findings = list(report.findings)
    missing_charts = [r["release"] for r in charts.missing] if charts else ["(plan predates chart rendering)"]
    incomplete = bool(missing_charts) or not crd_schema_dir().is_dir()
    unchecked = [f for f in findings if f.rule == "no-schema"] if incomplete and not in_ci() else []
    findings = [f for f in findings if f not in unchecked]
    problems = [str(f) for f in findings]
    chart_objects = sum(1 for o in report.objects if o.file.parts[0] == "charts")
    data: dict[str, Any] = {"objects": len(report.objects), "chartObjects": chart_objects,
                            "builtin": report.builtin_count, "custom": report.custom_count,
                            "kubernetesVersion": report.kubernetes_version,
                            "charts": {"rendered": [r["release"] for r in charts.rendered] if charts else [],
                                       "missing": missing_charts},
                            "uncheckedBySchema": sorted({f"{f.object_id.split('/')[0]} ({f.object_id})"
                                                         for f in unchecked}),
                            "notValidated": [{"object": f.object_id, "reason": f.message}
                                             for f in report.not_validated]}
    summary = (f"{len(report.objects)} objects ({chart_objects} from {len(data['charts']['rendered'])} rendered "
               f"charts): {report.builtin_count} built-in strictly valid for Kubernetes {report.kubernetes_version}, "
               f"{report.custom_count - len(unchecked) - len(report.not_validated)} custom resources strictly "
               "valid against the CRDs the plan installs or the stored upstream schemas") \
        if not findings else report.summary()
    if report.not_validated and not findings:
        kinds = sorted({f.object_id.split("/")[0] for f in report.not_validated})
        summary += (f"; not validated: {len(report.not_validated)} provider-installed custom resource(s) of kind "
                    f"{', '.join(kinds)} (no stored schema: docs/verify.md)")
    if unchecked:
        kinds = sorted({f.object_id.split("/")[0] for f in unchecked})
        summary += (f"; not checked here: {len(unchecked)} custom resource(s) of kind {', '.join(kinds)} "
                    "(provide the charts with `llmp charts pull` or LLMP_CHARTS, and stored schemas with "
                    "LLMP_CRD_SCHEMAS: docs/verify.md)")
    if missing_charts:
        summary += f"; charts not rendered: {', '.join(missing_charts)}"
        if in_ci():
            problems.append(f"CI=true and charts were not rendered: {', '.join(missing_charts)}")
    if checkov:
        from llmp.verify.manifests import checkov_accept, checkov_scan

        try:
            scan = checkov_accept.accept_for_charts(
                checkov_accept.accept_for_tier(checkov_scan.scan_manifests(build_dir / "manifests"), trust_tier))
        except (checkov_scan.CheckovUnavailable, checkov_scan.CheckovFailed) as exc:
            # Not a pass: hygiene was not checked. `make test-deps` installs checkov; --no-checkov opts out.
            problems.append(f"checkov could not run: {exc}")
            summary += "; checkov could not run"
        else:
            problems += [f"checkov: {f}" for f in scan.failed]
            data["checkov"] = {"passed": scan.passed_count, "failed": len(scan.failed), "version": scan.version,
                               "skipped": [{"object": s.object_id, "check": s.check_id, "title": s.check_name,
                                            "reason": s.reason, "scope": s.scope} for s in scan.skipped]}
            summary += f"; checkov {scan.version}: {scan.passed_count} passed, {len(scan.failed)} failed, " \
                       f"{len(scan.skipped)} skipped with documented reasons"
    else:
        summary += "; checkov not run (--no-checkov)"
    secrets = mock_secrets_for(build_dir / "plan.json")
    leaks = scan_for_leaks(build_dir, secrets)
    problems += [f"secret {label} appears in {path}" for path, label in leaks]
    data["secretScan"] = {"secretsKnown": len(secrets), "leaks": len(leaks)}
    summary += f"; no secret leaked ({len(secrets)} mocked secret values scanned)" if not leaks else \
        f"; {len(leaks)} secret leak(s)"
    flags = vllm_flags.check(load_manifests(build_dir / "manifests"))
    problems += flags.problems
    data["vllmFlags"] = {"containers": flags.containers, "flags": flags.flags, "unknown": len(flags.problems)}
    summary += (f"; every vLLM flag known to vLLM {vllm_flags.VERSION} ({flags.flags} in {flags.containers} "
                "`vllm serve` container(s))") if not flags.problems else f"; {len(flags.problems)} unknown vLLM flag(s)"
    return Proof("validity", "Manifest validity and secret scan", FAIL if problems else PASS, summary, problems, data)


def prove_observability(objects: list[dict[str, Any]], project_dir: Path, stack: str, profile: str) -> Proof:
    """Rules valid (`promtool check rules`), their unit tests and the KEDA triggers' signals passing
    (`promtool test rules`), every metric the rules and triggers read exported by a pinned release
    (llmp/verify/observability). Not a tenant control: stack-wide, like validity and install."""
    from llmp.verify.observability.proof import check, promtool
    from llmplatform.config.stack_file import load_stack_file
    from llmplatform.controls import tiers
    from llmplatform.config import Profile

    title = "Observability: rules, alert unit tests, metric names (promtool)"
    if promtool() is None and not in_ci():
        # Like a chart that is not rendered: listed as unchecked on a plain clone, a failure under CI=true.
        return Proof("observability", title, DORMANT, "not checked here: promtool missing (Debian's `prometheus` "
                     "package; .ci/run installs it)")
    cfg = load_stack_file(project_dir, stack)
    result = check(objects, cfg, fail_closed=tiers.sr3_requirements(Profile(profile)).fail_closed)
    sources = sorted(set(result.metrics.values()))
    summary = (f"{result.rules} rules ({len(result.alerts)} alerts) valid; {result.unit_cases} alert unit tests and "
               f"{result.keda_queries} KEDA trigger queries pass on synthetic series; {len(result.metrics)} metric "
               f"names read, each exported by a pinned release ({', '.join(sources)})") if not result.problems else \
        f"{len(result.problems)} problem(s)"
    data = {"alerts": result.alerts, "unitCases": result.unit_cases, "kedaQueries": result.keda_queries,
            "metrics": result.metrics, "promtool": result.promtool_version}
    return Proof("observability", title, FAIL if result.problems else PASS, summary, result.problems, data)


def prove_install_order(build_dir: Path) -> Proof:
    """The install proof (llmp/verify/install): order, reachability, waits and ownership of the first
    `pulumi up`, over plan.json and every rendered chart."""
    from llmp.verify.install import prove_install

    title = "Install: order, reachability, waits (first pulumi up)"
    result = prove_install(build_dir)
    problems = [str(p) for p in result.problems]
    if result.missing_charts:
        note = f"charts not rendered, their objects not modelled: {', '.join(result.missing_charts)}"
        if in_ci():
            problems.append(f"CI=true and {note}")
    c = result.counts
    summary = (f"{len(result.checks)} checks ({', '.join(result.checks)}) over {c['resources']} planned resources, "
               f"{c['plannedObjects']} program objects and {c['chartObjects']} objects of {c['releases']} Helm "
               f"releases: " + (f"{len(result.problems)} problem(s)" if result.problems else "the install holds"))
    if result.missing_charts:
        summary += f"; not modelled (charts not rendered): {', '.join(result.missing_charts)}"
    data = {"checks": result.checks, "counts": c, "missingCharts": result.missing_charts,
            "byCheck": {name: sum(1 for p in result.problems if p.check == name) for name in result.checks}}
    return Proof("install", title, FAIL if problems else PASS, summary, problems, data)


@dataclass(frozen=True, kw_only=True)
class ProofContext:
    """What a control's proof reads: the rendered objects and the plan's outputs."""

    objects: list[dict[str, Any]]
    profile: str
    trust_tier: str
    outputs: dict[str, Any]
    build_dir: Path
    project_dir: Path
    cel_python_sample: int | None = 2000


def sr1_network_proof(ctx: ProofContext) -> Proof:
    """SR1 (network, identity and host-isolation admission, vLLM routes): the registry's sr1-network proof."""
    return prove_network(ctx.objects, ctx.trust_tier, ctx.build_dir)


def sr2_gpu_admission_proof(ctx: ProofContext) -> Proof:
    return prove_admission(ctx.objects, ctx.trust_tier, tuple(ctx.outputs.get("sr2ExtraExemptNamespaces") or ()),
                           cel_python_sample=ctx.cel_python_sample,
                           substrate=ctx.outputs.get("substrateCapabilities") or {})


def sr3_fail_closed_proof(ctx: ProofContext) -> Proof:
    return prove_budgets(ctx.objects, ctx.profile, ctx.project_dir)


def tenant_edge_proof(ctx: ProofContext) -> Proof:
    from llmp.verify.edge import tenant_edge_proof as prove

    return prove(ctx)


def proof_function(path: str):
    """The proof a registry entry names (`module:function`), imported here: the program never imports it."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def control_proofs(ctx: ProofContext) -> list[Proof]:
    """Each control's proof, in registry order (controls without one are proved by their tests)."""
    return [_timed(proof_function(c.proof), ctx) for c in registry.CONTROLS if c.proof]


def verify_stack(project_dir: Path, stack: str, *, build_dir: Path | None = None, checkov: bool = True,
                 cel_python_sample: int | None = 2000) -> VerifyReport:
    """Run every proof on `build/<stack>` (run `llmp plan <stack>` first); `llmp verify` calls this.

    `build_dir` defaults to `<project_dir>/build/<stack>`; the connectivity picture is written there.
    `checkov=False` skips checkov (the other validity checks still run). `cel_python_sample`: how many
    SR2 shapes are cross-checked on the slow cel-python engine (~12 ms each; every shape always runs
    on cel-expr-python). Raises FileNotFoundError when `plan.json` is missing.
    """
    build_dir = build_dir or project_dir / "build" / stack
    plan_path = build_dir / "plan.json"
    if not plan_path.exists():
        raise FileNotFoundError(f"{plan_path} not found: run `llmp plan {stack}` first")
    plan = json.loads(plan_path.read_text())
    profile = plan["outputs"].get("profile", "dev")
    tier = plan["outputs"].get("trustTier", "trusted")
    ctx = ProofContext(objects=load_manifests(build_dir / "manifests"), profile=profile, trust_tier=tier,
                       outputs=plan["outputs"], build_dir=build_dir, project_dir=project_dir,
                       cel_python_sample=cel_python_sample)
    proofs = [
        *control_proofs(ctx),
        _timed(prove_validity, build_dir, checkov=checkov, trust_tier=tier),
        _timed(prove_install_order, build_dir),
        _timed(prove_observability, ctx.objects, project_dir, plan.get("stack", stack), profile),
    ]
    return VerifyReport(stack=stack, profile=profile, trust_tier=tier, proofs=proofs)
