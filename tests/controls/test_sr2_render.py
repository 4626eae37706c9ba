"""SR2 renderings: strictly schema-valid, no deprecated fields, one shared CEL text, and the CEL
behaves as SR2 says on generated pods and workloads (hypothesis, on cel-expr-python)."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplatform.controls.sr2_gpu_admission import render as sr2
from tests.support.gates import require_crd_schemas
from llmp.verify.sr2 import inline_variables

EXEMPT = ("kueue-system", "kyverno", "keda")
NAME = "sr2-gpu-admission"

# ---- a small strict validator for CRD schemas (README recipe, restated) -------------------------

_DATA_KEYWORDS = {"enum", "const", "default", "example", "required", "x-crd-source", "x-kubernetes-validations",
                  "x-kubernetes-list-map-keys"}


def _strict(node: Any) -> Any:
    """Rewrite an openAPIV3Schema node so jsonschema reads it as the API server with strict field
    validation would: int-or-string accepts both, nullable accepts null, and every object that
    declares properties (and does not preserve unknown fields) rejects undeclared ones."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: _strict(v) for k, v in value.items()}
        elif key in _DATA_KEYWORDS:
            out[key] = value
        else:
            out[key] = _strict(value)
    if out.get("x-kubernetes-int-or-string") and "type" not in out and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (out.get("type") == "object" and "properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        if out.get("x-kubernetes-embedded-resource"):
            for implied in ("apiVersion", "kind", "metadata"):
                out["properties"].setdefault(implied, {})
        out["additionalProperties"] = False
    if out.pop("nullable", False) is True:
        out = {"anyOf": [{"type": "null"}, out]}
    return out


@lru_cache(maxsize=None)
def _raw_schema() -> dict:
    path = require_crd_schemas() / "kyverno.io" / "clusterpolicy_v1.json"
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def _validator() -> jsonschema.Draft202012Validator:
    schema = _strict(_raw_schema())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _schema_errors(doc: dict) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in _validator().iter_errors(doc)]


def _deprecated_fields(doc: Any, schema: dict, path: str = "") -> list[str]:
    """Fields used in `doc` whose schema description says they are deprecated."""
    out: list[str] = []
    if isinstance(doc, dict):
        props = schema.get("properties") or {}
        for key, value in doc.items():
            sub = props.get(key)
            if sub is None:
                continue
            if str(sub.get("description", "")).lower().startswith("deprecated"):
                out.append(f"{path}.{key}".lstrip("."))
            out += _deprecated_fields(value, sub, f"{path}.{key}")
    elif isinstance(doc, list):
        items = schema.get("items") or {}
        for i, value in enumerate(doc):
            out += _deprecated_fields(value, items, f"{path}[{i}]")
    return out


@pytest.fixture(params=[True, False], ids=["enforce", "audit"])
def enforce(request: pytest.FixtureRequest) -> bool:
    return request.param


# ---- the Kyverno ClusterPolicy ------------------------------------------------------------------


def test_cluster_policy_is_valid_under_the_strict_kyverno_1_19_schema(enforce: bool) -> None:
    policy = sr2.kyverno_cluster_policy(NAME, enforce=enforce, exempt_namespaces=EXEMPT)
    assert _schema_errors(policy) == []


def test_the_strict_validator_rejects_a_misspelt_field_and_a_bad_enum() -> None:
    policy = sr2.kyverno_cluster_policy(NAME, enforce=True, exempt_namespaces=EXEMPT)
    typo = copy.deepcopy(policy)
    typo["spec"]["rules"][0]["validate"]["failureActions"] = "Enforce"
    assert any("failureActions" in e for e in _schema_errors(typo))
    bad_enum = copy.deepcopy(policy)
    bad_enum["spec"]["rules"][0]["validate"]["failureAction"] = "Block"
    assert any("Block" in e for e in _schema_errors(bad_enum))


def test_cluster_policy_uses_no_deprecated_field(enforce: bool) -> None:
    policy = sr2.kyverno_cluster_policy(NAME, enforce=enforce, exempt_namespaces=EXEMPT)
    assert _deprecated_fields(policy, _raw_schema()) == []
    # and the check itself can fail: the old policy-wide field is flagged
    old_style = copy.deepcopy(policy)
    old_style["spec"]["validationFailureAction"] = "Enforce"
    assert _deprecated_fields(old_style, _raw_schema()) == ["spec.validationFailureAction"]


def test_cluster_policy_failure_action_follows_the_tier(enforce: bool) -> None:
    policy = sr2.kyverno_cluster_policy(NAME, enforce=enforce, exempt_namespaces=EXEMPT)
    (rule,) = policy["spec"]["rules"]
    assert rule["validate"]["failureAction"] == ("Enforce" if enforce else "Audit")
    assert rule["validate"]["allowExistingViolations"] is False
    assert policy["spec"]["background"] is True and policy["spec"]["admission"] is True
    assert policy["spec"]["webhookConfiguration"]["failurePolicy"] == "Fail"
    assert policy["metadata"]["annotations"]["pod-policies.kyverno.io/autogen-controllers"] == "none"


def test_cluster_policy_matches_pods_and_every_workload_kind_on_create_and_update() -> None:
    policy = sr2.kyverno_cluster_policy(NAME, enforce=True, exempt_namespaces=EXEMPT)
    (flt,) = policy["spec"]["rules"][0]["match"]["any"]
    assert flt["resources"]["operations"] == ["CREATE", "UPDATE"]
    assert flt["resources"]["kinds"] == [
        "v1/Pod", "v1/Pod/ephemeralcontainers", "apps/v1/Deployment", "apps/v1/StatefulSet", "batch/v1/Job",
        "batch/v1/CronJob", "leaderworkerset.x-k8s.io/v1/LeaderWorkerSet",
    ]


# ---- the ValidatingAdmissionPolicy --------------------------------------------------------------


def test_vap_and_binding_are_valid_under_strict_kubernetes_schemas(enforce: bool) -> None:
    policy, binding = sr2.validating_admission_policy(NAME, enforce=enforce, exempt_namespaces=EXEMPT)
    for version in ("1.30.0", kubernetes_validate.latest_version()):
        kubernetes_validate.validate(policy, version, strict=True)
        kubernetes_validate.validate(binding, version, strict=True)


def test_vap_binding_denies_on_enforcing_tiers_and_audits_on_trusted(enforce: bool) -> None:
    policy, binding = sr2.validating_admission_policy(NAME, enforce=enforce, exempt_namespaces=EXEMPT)
    assert binding["spec"]["policyName"] == policy["metadata"]["name"] == NAME
    assert binding["metadata"]["name"] == f"{NAME}-binding"
    assert binding["spec"]["validationActions"] == (["Deny"] if enforce else ["Audit"])
    assert policy["spec"]["failurePolicy"] == "Fail"


def test_vap_excludes_exactly_the_system_and_given_namespaces_by_name() -> None:
    policy, _ = sr2.validating_admission_policy(NAME, enforce=True, exempt_namespaces=("kyverno", "keda", "kyverno"))
    (expr,) = policy["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"]
    assert expr == {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                    "values": ["keda", "kube-node-lease", "kube-public", "kube-system", "kyverno"]}


def test_vap_resource_rules_cover_every_workload_kind() -> None:
    policy, _ = sr2.validating_admission_policy(NAME, enforce=True, exempt_namespaces=EXEMPT)
    covered = {(g, v, r) for rule in policy["spec"]["matchConstraints"]["resourceRules"]
               for g in rule["apiGroups"] for v in rule["apiVersions"] for r in rule["resources"]}
    assert covered == {("", "v1", "pods"), ("", "v1", "pods/ephemeralcontainers"), ("apps", "v1", "deployments"),
                       ("apps", "v1", "statefulsets"), ("batch", "v1", "jobs"), ("batch", "v1", "cronjobs"),
                       ("leaderworkerset.x-k8s.io", "v1", "leaderworkersets")}
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert all(rule["operations"] == ["CREATE", "UPDATE"] for rule in rules)


# ---- shared CEL and inputs ----------------------------------------------------------------------


def test_both_renderings_carry_the_same_cel_text() -> None:
    kyverno = sr2.kyverno_cluster_policy(NAME, enforce=True, exempt_namespaces=EXEMPT)
    policy, _ = sr2.validating_admission_policy(NAME, enforce=True, exempt_namespaces=EXEMPT)
    cel = kyverno["spec"]["rules"][0]["validate"]["cel"]
    assert cel["variables"] == policy["spec"]["variables"]
    assert [e["expression"] for e in cel["expressions"]] == [v["expression"] for v in policy["spec"]["validations"]]
    assert "\n" not in cel["expressions"][0]["message"]


def test_invalid_inputs_are_reported_together() -> None:
    with pytest.raises(ValueError) as err:
        sr2.kyverno_cluster_policy("Bad_Name", enforce=True, exempt_namespaces=("ok", "Not OK", "x" * 64))
    text = str(err.value)
    assert "Bad_Name" in text and "Not OK" in text and "x" * 64 in text
    with pytest.raises(ValueError, match="not one string"):
        sr2.validating_admission_policy(NAME, enforce=True, exempt_namespaces="kyverno")  # type: ignore[arg-type]


# ---- the CEL on cel-expr-python, by property ----------------------------------------------------


@lru_cache(maxsize=None)
def _program():
    from cel_expr_python import cel

    rendered = sr2.kyverno_cluster_policy(NAME, enforce=True, exempt_namespaces=EXEMPT)
    body = rendered["spec"]["rules"][0]["validate"]["cel"]
    text = inline_variables([(v["name"], v["expression"]) for v in body["variables"]],
                            body["expressions"][0]["expression"])
    env = cel.NewEnv(variables={n: cel.Type.DYN for n in ("object", "oldObject", "namespaceObject", "request")})
    return env.compile(text)


def _admits(obj: dict) -> bool:
    from cel_expr_python import cel

    ns = obj["metadata"].get("namespace", "")
    value = _program().eval(data={
        "object": obj, "oldObject": None, "request": {"namespace": ns, "operation": "CREATE"},
        "namespaceObject": {"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}},
    })
    assert value.type() == cel.Type.BOOL, f"CEL did not return a bool: {value.value()!r}"
    return bool(value.value())


GPU_NAMES = st.sampled_from(["nvidia.com/gpu", "nvidia.com/mig-1g.10gb", "nvidia.com/mig-2g.20gb",
                             "nvidia.com/mig-7g.80gb"])
OTHER_NAMES = st.sampled_from(["cpu", "memory", "ephemeral-storage", "amd.com/gpu", "nvidia.com/gpushare",
                               "nvidia.com/mig", "example.com/nvidia.com-gpu", "hugepages-2Mi"])
QUANTITY = st.sampled_from(["1", "0", "500m", "2Gi", 1, 4])


@st.composite
def _container(draw, gpu_free: bool = True) -> dict:
    c: dict[str, Any] = {"name": draw(st.from_regex(r"[a-z]{1,8}", fullmatch=True)), "image": "img:1"}
    if draw(st.booleans()):
        res: dict[str, Any] = {}
        for field in ("requests", "limits"):
            if draw(st.booleans()):
                res[field] = draw(st.dictionaries(OTHER_NAMES, QUANTITY, max_size=3))
        c["resources"] = res
    return c


@st.composite
def _pod_spec(draw) -> dict:
    spec: dict[str, Any] = {"containers": draw(st.lists(_container(), min_size=1, max_size=3))}
    for lst in ("initContainers", "ephemeralContainers"):
        if draw(st.booleans()):
            spec[lst] = draw(st.lists(_container(), max_size=2))
    return spec


@st.composite
def _plant_gpu(draw, spec: dict) -> dict:
    """Put one GPU key into a random container list / container / requests-or-limits of `spec`."""
    spec = copy.deepcopy(spec)
    lst = draw(st.sampled_from(["containers", "initContainers", "ephemeralContainers"]))
    items = spec.setdefault(lst, [])
    if not items or draw(st.booleans()):
        items.append({"name": "gpu", "image": "img:1"})
    target = items[draw(st.integers(0, len(items) - 1))]
    where = draw(st.sampled_from(["requests", "limits", "both"]))
    name, qty = draw(GPU_NAMES), draw(QUANTITY)
    for field in (("requests", "limits") if where == "both" else (where,)):
        target.setdefault("resources", {}).setdefault(field, {})[name] = qty
    return spec


KINDS = st.sampled_from(["Pod", "Deployment", "StatefulSet", "Job", "CronJob", "LeaderWorkerSet",
                         "LeaderWorkerSet+leader"])


def _labels(queued: bool) -> dict[str, str]:
    return {"app": "x", "kueue.x-k8s.io/queue-name": "team-queue"} if queued else {"app": "x"}


def _object(kind: str, specs: list[dict], namespace: str, queued_sites: list[bool]) -> dict:
    """A kind's object with `specs` as its pod specs; `queued_sites[i]` labels the i-th metadata site
    (object, then CronJob job template, then pod templates in order)."""
    sites = iter(queued_sites)
    meta = {"name": "w", "namespace": namespace, "labels": _labels(next(sites))}
    base = kind.split("+")[0]
    api = {"Pod": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1",
           "LeaderWorkerSet": "leaderworkerset.x-k8s.io/v1"}[base]
    obj: dict[str, Any] = {"apiVersion": api, "kind": base, "metadata": meta}
    if base == "Pod":
        obj["spec"] = specs[0]
    elif base in ("Deployment", "StatefulSet", "Job"):
        obj["spec"] = {"template": {"metadata": {"labels": _labels(next(sites))}, "spec": specs[0]}}
    elif base == "CronJob":
        jt_meta = {"labels": _labels(next(sites))}
        pod_template = {"metadata": {"labels": _labels(next(sites))}, "spec": specs[0]}
        obj["spec"] = {"schedule": "@hourly", "jobTemplate": {"metadata": jt_meta, "spec": {"template": pod_template}}}
    else:
        lwt: dict[str, Any] = {}
        if kind.endswith("+leader"):
            lwt["leaderTemplate"] = {"metadata": {"labels": _labels(next(sites))}, "spec": specs[0]}
        lwt["workerTemplate"] = {"metadata": {"labels": _labels(next(sites))}, "spec": specs[-1]}
        obj["spec"] = {"leaderWorkerTemplate": lwt}
    return obj


def _n_sites(kind: str) -> int:
    return {"Pod": 1, "CronJob": 3, "LeaderWorkerSet+leader": 3}.get(kind, 2)


def _n_specs(kind: str) -> int:
    return 2 if kind == "LeaderWorkerSet+leader" else 1


MANAGED_NS = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True).filter(
    lambda n: n not in sr2.exempt_namespace_list(EXEMPT))

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(data=st.data(), kind=KINDS, namespace=MANAGED_NS)
def test_a_gpu_anywhere_without_the_queue_label_is_denied_in_a_managed_namespace(data, kind, namespace) -> None:
    specs = [data.draw(_pod_spec()) for _ in range(_n_specs(kind))]
    i = data.draw(st.integers(0, len(specs) - 1))
    specs[i] = data.draw(_plant_gpu(specs[i]))
    n = _n_sites(kind)
    missing = data.draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(any))
    obj = _object(kind, specs, namespace, [not m for m in missing])
    assert not _admits(obj), json.dumps(obj)


@PROPS
@given(data=st.data(), kind=KINDS, namespace=MANAGED_NS)
def test_a_gpu_workload_labelled_on_the_object_and_every_template_is_admitted(data, kind, namespace) -> None:
    specs = [data.draw(_pod_spec()) for _ in range(_n_specs(kind))]
    specs = [data.draw(_plant_gpu(s)) for s in specs]
    assert _admits(_object(kind, specs, namespace, [True] * _n_sites(kind)))


@PROPS
@given(data=st.data(), kind=KINDS, namespace=st.sampled_from(sr2.exempt_namespace_list(EXEMPT)))
def test_anything_in_a_system_or_exempt_namespace_is_admitted(data, kind, namespace) -> None:
    specs = [data.draw(_plant_gpu(data.draw(_pod_spec()))) for _ in range(_n_specs(kind))]
    n = _n_sites(kind)
    assert _admits(_object(kind, specs, namespace, data.draw(st.lists(st.booleans(), min_size=n, max_size=n))))


@PROPS
@given(data=st.data(), kind=KINDS, namespace=MANAGED_NS)
def test_a_workload_without_gpu_keys_is_admitted_unlabelled(data, kind, namespace) -> None:
    specs = [data.draw(_pod_spec()) for _ in range(_n_specs(kind))]
    assert _admits(_object(kind, specs, namespace, [False] * _n_sites(kind)))
