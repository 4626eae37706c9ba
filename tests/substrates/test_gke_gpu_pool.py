"""GpuPool under recording mocks: the node pool's inputs, its total autoscaling limits, and its validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pulumi.errors import InputPropertiesError

from llmplatform.config import GkeSubstrate, GpuPoolSpec, GpuSharing
from substrates.gke import build_gke
from substrates.gke.gpu_pool import GpuPool, GpuPoolArgs, initial_nodes_per_zone

ZONES3 = ("us-central1-a", "us-central1-b", "us-central1-c")
PER_ZONE_LIMITS = ("minNodeCount", "maxNodeCount")


def gpu_args(**overrides) -> GpuPoolArgs:
    base = dict(stack="t", project="acme-llm-test", location="us-central1", cluster_name="llmp-t",
                node_zones=("us-central1-a",), accelerator="nvidia-l4", machine_type="g2-standard-8",
                service_account_email="sa@acme-llm-test.iam.gserviceaccount.com")
    return GpuPoolArgs(**{**base, **overrides})


def test_dev_gpu_pool_is_spot_tainted_with_managed_drivers_and_scales_to_zero(recorder):
    recorder.run(lambda: GpuPool("gpu", gpu_args(min_nodes=0, max_nodes=1, spot=True)))
    reg = recorder.named("gpu-node-pool")
    assert reg.parent == recorder.named("gpu").urn
    inputs = recorder.inputs(reg)
    assert inputs["autoscaling"]["totalMinNodeCount"] == 0 and inputs["autoscaling"]["totalMaxNodeCount"] == 1
    assert inputs["autoscaling"]["locationPolicy"] == "ANY"
    node = inputs["nodeConfig"]
    assert node["spot"] is True
    acc = node["guestAccelerators"][0]
    assert acc["type"] == "nvidia-l4" and acc["count"] == 1
    assert acc["gpuDriverInstallationConfig"] == {"gpuDriverVersion": "LATEST"}
    assert "gpuSharingConfig" not in acc
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"} in node["taints"]


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_a_pool_over_three_zones_gets_its_totals_as_total_limits_and_no_per_zone_limits(recorder):
    """min 2 / max 6 over 3 zones: GKE must keep 2 and allow 6 nodes in all, not 2 and 6 in each zone."""
    recorder.run(lambda: GpuPool("gpu", gpu_args(node_zones=ZONES3, min_nodes=2, max_nodes=6)))
    inputs = recorder.inputs(recorder.named("gpu-node-pool"))
    scaling = inputs["autoscaling"]
    assert (scaling["totalMinNodeCount"], scaling["totalMaxNodeCount"]) == (2, 6)
    assert not set(PER_ZONE_LIMITS) & set(scaling), "per-zone limits cannot be combined with total ones"
    assert scaling["locationPolicy"] == "BALANCED"
    assert inputs["nodeLocations"] == list(ZONES3)
    assert inputs["initialNodeCount"] == initial_nodes_per_zone(2, 6, len(ZONES3))
    assert "nodeCount" not in inputs, "a fixed node count would fight the autoscaler"


def test_the_other_node_pool_inputs_do_not_depend_on_the_pool_size(recorder):
    recorder.run(lambda: (GpuPool("a", gpu_args(role="a", node_zones=ZONES3, min_nodes=0, max_nodes=1)),
                          GpuPool("b", gpu_args(role="b", node_zones=ZONES3, min_nodes=4, max_nodes=9))))
    a, b = (recorder.inputs(recorder.named(f"{r}-node-pool")) for r in "ab")
    size_keys = {"autoscaling", "initialNodeCount", "name", "nodeConfig"}
    assert {k: v for k, v in a.items() if k not in size_keys} == {k: v for k, v in b.items() if k not in size_keys}
    strip = lambda nc: {**nc, "labels": {}}  # noqa: E731 - the pool label carries the role
    assert strip(a["nodeConfig"]) == strip(b["nodeConfig"])
    assert a["upgradeSettings"] == {"maxSurge": 1, "maxUnavailable": 0, "strategy": "SURGE"}


def test_time_sharing_and_mig_are_configured_on_the_accelerator(recorder):
    recorder.run(lambda: (
        GpuPool("ts", gpu_args(role="ts", sharing=GpuSharing.TIME_SHARING, max_shared_clients_per_gpu=4)),
        GpuPool("mig", gpu_args(role="mig", accelerator="nvidia-tesla-a100", machine_type="a2-highgpu-1g",
                                sharing=GpuSharing.MIG, mig_partition_size="1g.5gb")),
    ))
    ts = recorder.inputs(recorder.named("ts-node-pool"))["nodeConfig"]["guestAccelerators"][0]
    assert ts["gpuSharingConfig"] == {"gpuSharingStrategy": "TIME_SHARING", "maxSharedClientsPerGpu": 4}
    mig = recorder.inputs(recorder.named("mig-node-pool"))["nodeConfig"]["guestAccelerators"][0]
    assert mig["gpuPartitionSize"] == "1g.5gb"


def test_every_bad_size_input_is_reported_at_once(recorder):
    with pytest.raises(InputPropertiesError) as err:
        recorder.run(lambda: GpuPool("gpu", gpu_args(node_zones=(), min_nodes=3, max_nodes=0)))
    paths = sorted(d["property_path"] for d in err.value.errors)
    assert paths == ["max_nodes", "min_nodes", "node_zones"]
    assert "above max_nodes (0)" in str(err.value)


@given(st.integers(0, 20), st.integers(0, 20), st.integers(1, 4))
def test_the_initial_size_never_exceeds_the_total_maximum_and_reaches_the_minimum_where_it_can(lo, span, zones):
    hi = max(1, lo + span)
    per_zone = initial_nodes_per_zone(lo, hi, zones)
    assert per_zone >= 0 and per_zone * zones <= hi
    fits = any(lo <= n * zones <= hi for n in range(hi + 1))
    assert (per_zone * zones >= lo) == fits
    if fits:
        assert (per_zone - 1) * zones < lo, "the smallest equal per-zone count that reaches the minimum"


def test_the_gke_substrate_passes_the_configured_pool_totals_unchanged(recorder):
    """The GKE substrate (substrates/gke/substrate.py) once rounded the totals up per zone (prod's 2 over 3 zones kept 3 nodes)."""
    sub = GkeSubstrate(kind="gke", project="acme-llm-test", region="us-central1", zones=ZONES3,
                       deletion_protection=False)
    pool = GpuPoolSpec(accelerator="nvidia-l4", machine_type="g2-standard-24", gpus_per_node=2,
                         min_nodes=2, max_nodes=6)
    recorder.run(lambda: build_gke("gke", "t", sub, pool))
    (reg,) = [r for r in recorder.of_type("gcp:container/nodePool:NodePool") if r.name == "gke-gpu-node-pool"]
    scaling = recorder.inputs(reg)["autoscaling"]
    assert (scaling["totalMinNodeCount"], scaling["totalMaxNodeCount"]) == (pool.min_nodes, pool.max_nodes)
    assert not set(PER_ZONE_LIMITS) & set(scaling)
