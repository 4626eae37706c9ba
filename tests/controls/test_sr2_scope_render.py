"""SR2's Kueue-scope and GPU-access clauses and the exempt-name guard, rendered and evaluated on both CEL
engines (the full proof over generated shapes is tests/verify/test_sr2_scope.py)."""

from __future__ import annotations

from typing import Any

import pytest

from substrates.gke.cluster import ADDON_NAMESPACES
from llmplatform.config import GpuPoolSpec, VastSubstrate
from llmplatform.controls.sr2_gpu_admission import namespace_guard
from llmplatform.controls.sr2_gpu_admission import render as sr2
from llmplatform.controls.exemptions import PLATFORM_CONTROLLERS, sr2_exempt_namespaces, unowned_exempt_names
from llmplatform.serving import charts, kueue
from llmp.verify.sr2.cel_text import inline_variables
from llmp.verify.sr2.engines import CppEngine, PyEngine
from substrates.gke import gke_capabilities
from substrates.vast.substrate import DEVICE_PLUGIN_NAMESPACE, vast_capabilities

SCOPE = sr2.KueueScope(namespaces=kueue.managed_namespaces(["tenant-a"]),
                       kinds=sr2.kinds_for_frameworks(charts.KUEUE_FRAMEWORKS))
ACCESS = sr2.GpuAccess(taint_keys=("nvidia.com/gpu",), runtime_classes=("nvidia",))


def _verdicts(obj: dict[str, Any], **kw: Any) -> set[object]:
    """What both engines say about `obj` under the rendered VAP (all validations must hold)."""
    policy, _ = sr2.validating_admission_policy("p", enforce=True, exempt_namespaces=("kyverno",), **kw)
    variables = [(v["name"], v["expression"]) for v in policy["spec"]["variables"]]
    out = set()
    for engine in (CppEngine(), PyEngine()):
        results = [engine.run(engine.compile(inline_variables(variables, v["expression"])),
                              engine.activation({"object": obj})) for v in policy["spec"]["validations"]]
        out.add(all(r is True for r in results))
    return out


def _pod(namespace: str, *, gpu: bool = True, queued: bool = True, **spec: Any) -> dict[str, Any]:
    labels = {"kueue.x-k8s.io/queue-name": "gpu"} if queued else {}
    container: dict[str, Any] = {"name": "c", "image": "x"}
    if gpu:
        container["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace, "labels": labels},
            "spec": {"containers": [container], **spec}}


def test_kueue_manages_the_serving_namespace_and_each_tenant_namespace_once() -> None:
    assert kueue.managed_namespaces(["tenant-b", "tenant-a", "tenant-a"]) == ("llm-serving", "tenant-a", "tenant-b")
    assert kueue.managed_namespaces([]) == ("llm-serving",)


def test_the_kinds_kueue_queues_follow_its_enabled_integrations() -> None:
    assert sr2.kinds_for_frameworks(charts.KUEUE_FRAMEWORKS) == ("Pod", "Deployment", "StatefulSet", "Job", "CronJob")
    assert "LeaderWorkerSet" in sr2.kinds_for_frameworks(["leaderworkerset.x-k8s.io/leaderworkerset"])


@pytest.mark.parametrize("namespace, admitted", [("llm-serving", True), ("tenant-a", True), ("default", False),
                                                 ("team-x", False), ("kyverno", True)])
def test_a_queued_gpu_pod_is_admitted_only_where_kueue_acts_or_exempt(namespace, admitted) -> None:
    assert _verdicts(_pod(namespace), kueue=SCOPE) == {admitted}
    assert _verdicts(_pod(namespace)) == {True}  # without the scope clause: the old label-only rule


def test_a_gpu_leaderworkerset_is_denied_while_kueues_integration_for_it_is_off() -> None:
    template = {"metadata": {"labels": {"kueue.x-k8s.io/queue-name": "gpu"}},
                "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}
    lws = {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
           "metadata": {"name": "l", "namespace": "llm-serving", "labels": {"kueue.x-k8s.io/queue-name": "gpu"}},
           "spec": {"leaderWorkerTemplate": {"workerTemplate": template}}}
    assert _verdicts(lws, kueue=SCOPE) == {False}


@pytest.mark.parametrize("spec, admitted", [
    ({}, True),
    ({"runtimeClassName": "nvidia"}, False),
    ({"runtimeClassName": "gvisor"}, True),
    ({"tolerations": [{"operator": "Exists"}]}, False),
    ({"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}, False),
    ({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "x"}]}, True),
    ({"initContainers": [{"name": "i", "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]}]}, False),
    ({"ephemeralContainers": [{"name": "e", "env": [{"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "all"}]}]},
     False),
    ({"initContainers": [{"name": "i", "env": [{"name": "CUDA_VISIBLE_DEVICES", "value": "0"}, {"name": "X"}]}]},
     True),
])
def test_a_pod_without_a_gpu_request_may_not_reach_a_gpu(spec, admitted) -> None:
    assert _verdicts(_pod("team-x", gpu=False, queued=False, **spec), kueue=SCOPE, gpu_access=ACCESS) == {admitted}
    # with a GPU request, queued, where Kueue acts, the same pod spec is fine
    assert _verdicts(_pod("llm-serving", **spec), kueue=SCOPE, gpu_access=ACCESS) == {True}
    # exempt namespaces are not checked
    assert _verdicts(_pod("kyverno", gpu=False, queued=False, **spec), kueue=SCOPE, gpu_access=ACCESS) == {True}


def test_without_a_gpu_taint_tolerations_are_not_gpu_access() -> None:
    untainted = sr2.GpuAccess(taint_keys=(), runtime_classes=("nvidia",))
    assert _verdicts(_pod("team-x", gpu=False, queued=False, tolerations=[{"operator": "Exists"}]),
                     gpu_access=untainted) == {True}


def test_both_renderings_carry_both_validations_with_their_messages() -> None:
    kyverno = sr2.kyverno_cluster_policy("p", enforce=True, exempt_namespaces=(), kueue=SCOPE, gpu_access=ACCESS)
    policy, _ = sr2.validating_admission_policy("p", enforce=True, exempt_namespaces=(), kueue=SCOPE,
                                                gpu_access=ACCESS)
    k_exprs = kyverno["spec"]["rules"][0]["validate"]["cel"]["expressions"]
    assert [e["expression"] for e in k_exprs] == [v["expression"] for v in policy["spec"]["validations"]]
    assert len(k_exprs) == 2 and "Kueue manages" in k_exprs[0]["message"] and "NVIDIA" in k_exprs[1]["message"]


# ---- exemptions per substrate and the guard -------------------------------------------------------


def test_gke_exempts_its_enabled_add_ons_and_vast_its_device_plugin_and_neither_the_others_names() -> None:
    gke = gke_capabilities(GpuPoolSpec(accelerator="nvidia-l4", machine_type="g2-standard-8", gpus_per_node=1))
    vast = vast_capabilities(VastSubstrate(kind="vast", gpu_name="RTX_4090", num_gpus=2))
    gke_exempt = sr2_exempt_namespaces(system_namespaces=gke.system_namespaces)
    vast_exempt = sr2_exempt_namespaces(system_namespaces=vast.system_namespaces)
    assert set(ADDON_NAMESPACES) <= set(gke_exempt) and DEVICE_PLUGIN_NAMESPACE not in gke_exempt
    assert DEVICE_PLUGIN_NAMESPACE in vast_exempt and not set(ADDON_NAMESPACES) & set(vast_exempt)
    for exempt in (gke_exempt, vast_exempt):
        assert not {"gke-managed-filestorecsi", "gke-gmp-system", "gke-managed-cim", "gke-managed-system"} & set(exempt)
        assert set(PLATFORM_CONTROLLERS) <= set(exempt)


def test_the_guard_refuses_every_exempt_name_but_the_platforms_own() -> None:
    exempt = sr2_exempt_namespaces(("legacy-batch",), system_namespaces=("kube-system", "nvidia-device-plugin"))
    names = unowned_exempt_names(exempt)
    assert set(names) == {"kube-system", "kube-public", "kube-node-lease", "nvidia-device-plugin", "legacy-batch"}
    policy, binding = namespace_guard.validating_admission_policy("g", enforce=True, names=names)
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule["resources"] == ["namespaces"] and rule["operations"] == ["CREATE"] and rule["scope"] == "Cluster"
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert namespace_guard.validating_admission_policy("g", enforce=False, names=names)[1]["spec"][
        "validationActions"] == ["Audit"]
    (validation,) = policy["spec"]["validations"]
    for engine in (CppEngine(), PyEngine()):
        program = engine.compile(validation["expression"])
        for name in (*names, "kueue-system", "team-a"):
            admitted = engine.run(program, engine.activation({"object": {"metadata": {"name": name}}}))
            assert admitted is (name not in names), (engine.name, name)
