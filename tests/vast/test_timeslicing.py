"""Criterion (c), time-slicing, judged against the capability object of the stack config."""

from __future__ import annotations

import pytest

from llmplatform.config import VastSubstrate
from llmp.multigpu.report import Status
from llmp.multigpu.timeslicing import evaluate_time_slicing, gpu_nodes, gpu_pods, memory_utilization
from substrates.vast.substrate import vast_capabilities
from tests.vast.fakes import node_object, pod_object

CAPS = vast_capabilities(VastSubstrate(kind="vast", gpu_name="RTX_4090", num_gpus=2, time_slicing_replicas=2))


def judge(nodes, pods, caps=CAPS):
    return evaluate_time_slicing(gpu_nodes(nodes, caps), gpu_pods(pods, caps), caps)


def three_pods(**kw):
    return [pod_object(f"vllm-{i}", f"10.42.0.{i}", **kw) for i in range(3)]


def test_three_replicas_on_two_time_sliced_gpus_pass() -> None:
    result = judge([node_object()], three_pods())
    assert result.status == Status.PASS, result.failures
    assert result.metrics["sharedOn"] == ["vast-node-1"]
    assert result.metrics["expected"]["allocatablePerNode"] == 4 and result.metrics["expected"]["maxMemoryUtilization"] == 0.45


def test_a_node_advertising_only_its_physical_gpus_fails() -> None:
    result = judge([node_object(allocatable=2)], three_pods())
    assert result.status == Status.FAIL
    assert any("advertises 2 nvidia.com/gpu; expected 2 GPUs x 2 replicas = 4" in f for f in result.failures)


def test_a_product_label_without_shared_matches_no_expected_value_and_fails() -> None:
    result = judge([node_object(product="NVIDIA-GeForce-RTX-4090")], three_pods())
    assert result.status == Status.FAIL
    assert any("seen: ['NVIDIA-GeForce-RTX-4090']" in f for f in result.failures)


def test_a_replica_that_kept_the_full_memory_fraction_fails() -> None:
    pods = three_pods()
    pods[2] = pod_object("vllm-2", "10.42.0.2", memory_utilization="0.9")
    result = judge([node_object()], pods)
    assert result.status == Status.FAIL
    assert result.failures == ("pod vllm-2 runs with --gpu-memory-utilization 0.9; at most 0.45 with 2 replicas per GPU",)


def test_as_many_replicas_as_gpus_do_not_show_sharing() -> None:
    result = judge([node_object()], three_pods()[:2])
    assert result.status == Status.FAIL
    assert any("sharing is not shown" in f for f in result.failures)


def test_a_replica_that_did_not_start_fails() -> None:
    pods = three_pods()
    pods[0] = pod_object("vllm-0", "10.42.0.0", ready=False, phase="Pending")
    result = judge([node_object()], pods)
    assert result.status == Status.FAIL and any("vllm-0 is Pending and not Ready" in f for f in result.failures)


def test_the_wrong_runtime_class_and_a_wrong_physical_count_fail() -> None:
    pods = three_pods()
    pods[1] = pod_object("vllm-1", "10.42.0.1", runtime_class=None)
    result = judge([node_object(physical=4, allocatable=8)], pods)
    assert any("has 4 physical GPUs; the stack expects 2" in f for f in result.failures)
    assert any("RuntimeClass None; expected 'nvidia'" in f for f in result.failures)


def test_without_time_slicing_the_criterion_is_skipped_not_passed() -> None:
    caps = vast_capabilities(VastSubstrate(kind="vast", num_gpus=2))
    result = judge([node_object(product="NVIDIA-GeForce-RTX-4090", replicas=1)], three_pods()[:2], caps)
    assert result.status == Status.SKIPPED and not result.passed


@pytest.mark.parametrize(("args", "value"), [
    (["--gpu-memory-utilization", "0.45"], 0.45),
    (["--x", "1", "--gpu-memory-utilization=0.3"], 0.3),
    (["--gpu-memory-utilization"], None),
    (["--gpu-memory-utilization", "lots"], None),
    ([], None),
])
def test_the_memory_fraction_is_read_from_either_argument_form(args, value) -> None:
    assert memory_utilization(args) == value
