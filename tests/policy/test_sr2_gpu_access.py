"""SR2 rule 6 on rendered objects (the CrossGuard pack's `sr2-gpu-workloads-queued`): a workload that requests
no GPU must not reach one through a toleration, the NVIDIA runtime class or NVIDIA device variables."""

from __future__ import annotations

from typing import Any

import pytest

from llmplatform.controls.sr2_gpu_admission import predicates as gpu


def _deployment(**spec: Any) -> dict[str, Any]:
    pod = {"containers": [{"name": "app", "image": "x"}], **spec}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"metadata": {}, "spec": pod}}}


@pytest.mark.parametrize("spec, why", [
    ({"runtimeClassName": "nvidia"}, "runtimeClassName is 'nvidia'"),
    ({"tolerations": [{"operator": "Exists"}]}, "tolerates every taint"),
    ({"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}, "tolerates nvidia.com/gpu"),
    ({"initContainers": [{"name": "i", "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]}]},
     "initContainers[i] sets NVIDIA_VISIBLE_DEVICES"),
])
def test_a_workload_without_a_gpu_request_that_reaches_a_gpu_is_named(spec, why) -> None:
    (problem,) = gpu.gpu_access_without_request(_deployment(**spec))
    assert why in problem and problem.startswith("Deployment requests no GPU")


@pytest.mark.parametrize("spec", [{}, {"runtimeClassName": "gvisor"},
                                  {"tolerations": [{"key": "dedicated", "operator": "Exists"}]},
                                  {"initContainers": [{"name": "i", "env": [{"name": "CUDA_VISIBLE_DEVICES"}]}]}])
def test_ordinary_workloads_pass(spec) -> None:
    assert gpu.gpu_access_without_request(_deployment(**spec)) == []


def test_a_workload_that_requests_a_gpu_is_left_to_the_queue_rule() -> None:
    obj = _deployment(runtimeClassName="nvidia", tolerations=[{"operator": "Exists"}])
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    assert gpu.gpu_access_without_request(obj) == []
