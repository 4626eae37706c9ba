"""The same stack planned on GKE and on Vast renders the same Kubernetes objects, differing only in
fields a capability names.

`CAPABILITY_FIELDS` maps each `SubstrateCapabilities` field to the manifest paths it controls. Every
path that differs between the two plans must be claimed by a field whose values differ between the
two capability objects; any other difference (an extra object, a changed image, a branch on the
substrate's name) fails the test with the path that differs.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmplatform.config import PlatformConfig, load_platform_config
from llmp.plan.render import load_manifests
from tests.support.gates import REPO_ROOT
from llmp.multigpu.run import load_stack_config
from substrates.capabilities import SubstrateCapabilities
from substrates.gke import gke_capabilities
from substrates.vast.substrate import vast_capabilities

Path_ = tuple[str, ...]

POD = ("spec", "template", "spec")
NODE_TERM = (*POD, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms",
             "*", "matchExpressions", "*")


@dataclass(frozen=True)
class Claim:
    """Paths (per kind) a capability field controls; `*` is one segment, a trailing `**` any rest.
    `after_flag`: the path is a list element that follows this flag (an argument's value)."""

    kind: str
    path: Path_
    after_flag: str | None = None

    def matches(self, kind: str, path: Path_, obj: dict[str, Any]) -> bool:
        if not fnmatch.fnmatchcase(kind, self.kind):
            return False
        pattern = self.path
        if pattern and pattern[-1] == "**":
            if len(path) < len(pattern) - 1:
                return False
            path_cmp, pattern = path[: len(pattern) - 1], pattern[:-1]
        else:
            path_cmp = path
        if len(path_cmp) != len(pattern) or not all(fnmatch.fnmatchcase(s, p) for s, p in zip(path_cmp, pattern, strict=True)):
            return False
        if self.after_flag is None:
            return True
        parent, index = _get(obj, path[:-1]), int(path[-1])
        return isinstance(parent, list) and index > 0 and parent[index - 1] == self.after_flag


SR2_CEL = (Claim("ValidatingAdmissionPolicy", ("spec", "variables", "*", "expression")),
           Claim("ClusterPolicy", ("spec", "rules", "*", "validate", "cel", "variables", "*", "expression")))
"""The SR2 CEL variables: the exempt list and the GPU-access clause come from capabilities."""

CAPABILITY_FIELDS: dict[str, tuple[Claim, ...]] = {
    "gpu_resource_name": (
        Claim("Deployment", (*POD, "containers", "*", "resources", "*", "**")),
        Claim("ClusterQueue", ("spec", "resourceGroups", "*", "coveredResources", "**")),
        Claim("ClusterQueue", ("spec", "resourceGroups", "*", "flavors", "*", "resources", "*", "name")),
    ),
    "gpu_product_label_key": (
        Claim("Deployment", (*NODE_TERM, "key")),
        Claim("ResourceFlavor", ("spec", "nodeLabels", "**")),
    ),
    "gpu_product_label_values": (
        Claim("Deployment", (*NODE_TERM, "values", "**")),
        Claim("ResourceFlavor", ("spec", "nodeLabels", "**")),
        Claim("ResourceFlavor", ("metadata", "name")),  # the flavor is named after the label value
        Claim("ClusterQueue", ("spec", "resourceGroups", "*", "flavors", "*", "name")),
    ),
    "gpu_taint": (
        Claim("Deployment", (*POD, "tolerations", "**")),
        Claim("ResourceFlavor", ("spec", "nodeTaints", "**")),
        *SR2_CEL,  # SR2: no GPU-taint toleration without a GPU request
    ),
    "runtime_class_name": (Claim("Deployment", (*POD, "runtimeClassName")), *SR2_CEL),
    # SR2 exempts the substrate's own namespaces and refuses creating them (the name guard).
    "system_namespaces": (
        *SR2_CEL,
        Claim("ValidatingAdmissionPolicy", ("spec", "matchConstraints", "namespaceSelector", "**")),
        Claim("ClusterPolicy", ("spec", "rules", "*", "exclude", "any", "*", "resources", "namespaces", "**")),
        Claim("ValidatingAdmissionPolicy", ("spec", "validations", "*", "expression")),
    ),
    "gpu_time_slicing_replicas": (Claim("Deployment", (*POD, "containers", "*", "args", "*"),
                                        after_flag="--gpu-memory-utilization"),),
    "storage_class": (Claim("*", ("spec", "storage", "storageClass")),
                      Claim("*", ("spec", "volumeClaimTemplates", "*", "spec", "storageClassName"))),
    "load_balancer_available": (Claim("Service", ("spec", "type")),),
    "gateway": (Claim("Gateway", ("spec", "gatewayClassName")),),
}
"""Capability field -> the manifest paths it may change. Fields absent here (display_name,
gpus_per_node, mig_available, network_policy_enforced) must not change any manifest."""

RENAMED_BY = {"ResourceFlavor": "gpu_product_label_values"}
"""Kinds whose object names come from a capability: paired by position instead of by name."""


def _get(obj: Any, path: Path_) -> Any:
    for seg in path:
        obj = obj[int(seg)] if isinstance(obj, list) else obj[seg]
    return obj


def diff_paths(a: Any, b: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Leaf paths where `a` and `b` differ (a missing key or list element is a difference at its path)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield (*path, key)
            else:
                yield from diff_paths(a[key], b[key], (*path, key))
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            if i >= len(a) or i >= len(b):
                yield (*path, str(i))
            else:
                yield from diff_paths(a[i], b[i], (*path, str(i)))
    elif a != b:
        yield path


def identity(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta.get("name", "")


def pair_objects(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> tuple[list[tuple[dict, dict]], list[str]]:
    """(pairs, problems): objects matched by identity, renamed kinds by position."""
    by_id_l, by_id_r = {identity(o): o for o in left}, {identity(o): o for o in right}
    pairs = [(by_id_l[i], by_id_r[i]) for i in sorted(set(by_id_l) & set(by_id_r))]
    problems = []
    only_l = sorted(set(by_id_l) - set(by_id_r))
    only_r = sorted(set(by_id_r) - set(by_id_l))
    for kind in RENAMED_BY:
        ls, rs = [i for i in only_l if i[1] == kind], [i for i in only_r if i[1] == kind]
        if len(ls) == len(rs):
            pairs += [(by_id_l[x], by_id_r[y]) for x, y in zip(ls, rs, strict=True)]
            only_l, only_r = [i for i in only_l if i not in ls], [i for i in only_r if i not in rs]
    problems += [f"only on GKE: {i}" for i in only_l] + [f"only on Vast: {i}" for i in only_r]
    return pairs, problems


def unexplained_differences(
    gke: list[dict[str, Any]], vast: list[dict[str, Any]], caps_gke: SubstrateCapabilities,
    caps_vast: SubstrateCapabilities,
) -> tuple[list[str], dict[str, int]]:
    """(differences no differing capability field claims, claimed-difference count per field)."""
    differing = {f.name for f in dataclasses.fields(SubstrateCapabilities)
                 if getattr(caps_gke, f.name) != getattr(caps_vast, f.name)}
    pairs, problems = pair_objects(gke, vast)
    used: dict[str, int] = {}
    for left, right in pairs:
        for path in diff_paths(left, right):
            claimed = [f for f, claims in CAPABILITY_FIELDS.items()
                       if any(c.matches(left["kind"], path, left) or c.matches(left["kind"], path, right) for c in claims)]
            live = [f for f in claimed if f in differing]
            if not live:
                why = f"claimed by {claimed}, which are equal on both substrates" if claimed else "claimed by no capability"
                problems.append(f"{identity(left)} {'.'.join(path)}: {_show(left, path)!r} vs {_show(right, path)!r} ({why})")
            for f in live:
                used[f] = used.get(f, 0) + 1
    return problems, used


def _show(obj: dict[str, Any], path: Path_) -> Any:
    try:
        return _get(obj, path)
    except (KeyError, IndexError, TypeError):
        return "<absent>"


def gpu_deployments(objs: list[dict[str, Any]], resource: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs if o["kind"] == "Deployment" and any(
        resource in ((c.get("resources") or {}).get("requests") or {})
        for c in o["spec"]["template"]["spec"].get("containers") or []))


def _dev_config(substrate: dict[str, Any] | None = None) -> PlatformConfig:
    cfg = load_stack_config(REPO_ROOT, "dev")
    if substrate is None:
        return cfg
    raw = cfg.model_dump(mode="json", exclude_none=True)
    raw["substrate"] = substrate
    return load_platform_config(raw)


VAST_VARIANTS = {
    # Same models, tenants and tier as dev; one L4 like dev's pool, so only the substrate differs.
    "vast-l4": {"kind": "vast", "gpu_name": "L4", "num_gpus": 1, "time_slicing_replicas": 1},
    # And with time-slicing, which also lowers vLLM's memory fraction and renames the label.
    "vast-l4-shared": {"kind": "vast", "gpu_name": "L4", "num_gpus": 1, "time_slicing_replicas": 2},
}


@pytest.mark.parametrize("variant", sorted(VAST_VARIANTS))
def test_dev_on_gke_and_on_vast_differ_only_where_a_capability_says(
    variant: str, planned: Any, planned_variant: Any
) -> None:
    gke_cfg, vast_cfg = _dev_config(), _dev_config(VAST_VARIANTS[variant])
    caps_gke, caps_vast = gke_capabilities(gke_cfg.gpu_pool), vast_capabilities(vast_cfg.substrate)
    gke = load_manifests(Path(planned("dev")) / "manifests", charts=False)
    vast = load_manifests(Path(planned_variant(variant, "dev", {"substrate": VAST_VARIANTS[variant]})) / "manifests", charts=False)

    # Not vacuous: the serving layer is in both plans, with GPU model servers to compare.
    assert gpu_deployments(gke, caps_gke.gpu_resource_name), "no GPU Deployment in the GKE plan"
    assert gpu_deployments(gke, caps_gke.gpu_resource_name) == gpu_deployments(vast, caps_vast.gpu_resource_name)

    problems, used = unexplained_differences(gke, vast, caps_gke, caps_vast)
    assert not problems, "differences no capability explains:\n  " + "\n  ".join(problems)
    # The substrates do differ, and it shows where the capability object says it should.
    assert {"gpu_product_label_key", "gpu_product_label_values", "gpu_taint", "runtime_class_name"} <= set(used)
    if caps_vast.gpu_time_slicing_replicas != caps_gke.gpu_time_slicing_replicas:
        assert "gpu_time_slicing_replicas" in used


def test_the_diff_catches_a_difference_no_capability_names() -> None:
    caps = vast_capabilities(_dev_config(VAST_VARIANTS["vast-l4"]).substrate)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m", "namespace": "s"},
                  "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "vllm:1",
                                                                 "args": ["--gpu-memory-utilization", "0.9"]}]}}}}
    other = {**deployment, "spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "vllm:2", "args": ["--gpu-memory-utilization", "0.45"]}]}}}}
    problems, used = unexplained_differences([deployment], [other], caps, caps)
    # Both differences are unexplained: the image is claimed by nothing, and the memory fraction's
    # capability (time-slicing replicas) is equal on both sides.
    assert len(problems) == 2 and used == {}
    assert any("image" in p and "claimed by no capability" in p for p in problems)
    assert any("args.1" in p and "equal on both substrates" in p for p in problems)


def test_the_diff_reports_objects_that_exist_on_one_substrate_only() -> None:
    caps = vast_capabilities(_dev_config(VAST_VARIANTS["vast-l4"]).substrate)
    extra = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"}}
    problems, _ = unexplained_differences([], [extra], caps, caps)
    assert problems == ["only on Vast: ('node.k8s.io/v1', 'RuntimeClass', '', 'nvidia')"]
