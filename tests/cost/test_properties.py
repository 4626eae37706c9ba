"""Properties: cost never falls when busy hours or node counts grow; busy hours never move idle."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from llmplatform.config import GpuPoolSpec, ModelSpec
from llmp.cost.assumptions import Assumptions
from llmp.cost.estimate import estimate, estimate_layout
from llmp.cost.layout import ClusterLayout, PoolLayout, gke_layout, gpu_pool_layout, nodes_for
from llmp.cost.pricing import LocationKind, PricingTable

from .conftest import SMALL_TABLE_RAW, small_config

TABLE = PricingTable.model_validate(SMALL_TABLE_RAW)
hours = st.floats(min_value=0, max_value=730, allow_nan=False)


def model(max_replicas: int, min_replicas: int = 0, gpus: int = 1) -> ModelSpec:
    return ModelSpec(name="m", hf_id="org/m", revision="0" * 40, served_name="m", gpus_per_replica=gpus,
                     min_replicas=min_replicas, max_replicas=max_replicas)


@st.composite
def layouts(draw) -> ClusterLayout:
    def pool(role: str, machine: str, gpu: str | None) -> PoolLayout:
        always = draw(st.integers(0, 6))
        busy = always + draw(st.integers(0, 6))
        return PoolLayout(role=role, machine_type=machine, spot=draw(st.booleans()), gpu=gpu, gpus_per_node=1 if gpu else 0,
                          disk_type="pd-ssd", disk_size_gb=draw(st.integers(10, 500)), min_nodes=always, max_nodes=busy,
                          always_on_nodes=always, busy_nodes=busy, basis="generated")
    return ClusterLayout(region="us-central1", location="us-central1", location_kind=draw(st.sampled_from(list(LocationKind))),
                         pools=(pool("system", "e2-standard-2", None), pool("gpu", "g2-standard-8", "nvidia-l4")),
                         volumes=())


@settings(max_examples=200, deadline=None)
@given(layouts(), hours, hours)
def test_cost_is_monotone_in_busy_hours_and_idle_does_not_move(layout, h1, h2):
    lo, hi = sorted((h1, h2))
    a = estimate_layout("p", layout, TABLE, Assumptions(busy_hours=lo))
    b = estimate_layout("p", layout, TABLE, Assumptions(busy_hours=hi))
    assert a.busy_total <= b.busy_total + 1e-9
    assert a.idle_total == b.idle_total
    assert a.idle_total <= a.busy_total + 1e-9


@settings(max_examples=200, deadline=None)
@given(layouts(), st.sampled_from([0, 1]), st.integers(0, 4), st.integers(0, 4), hours)
def test_cost_is_monotone_in_node_counts(layout, which, more_always, more_busy, h):
    pool = layout.pools[which]
    grown = replace(pool, always_on_nodes=pool.always_on_nodes + more_always,
                    busy_nodes=pool.busy_nodes + more_always + more_busy)
    bigger = replace(layout, pools=tuple(grown if p is pool else p for p in layout.pools))
    a = estimate_layout("p", layout, TABLE, Assumptions(busy_hours=h))
    b = estimate_layout("p", bigger, TABLE, Assumptions(busy_hours=h))
    assert a.idle_total <= b.idle_total + 1e-9 and a.busy_total <= b.busy_total + 1e-9


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 8), st.integers(1, 8), st.integers(1, 3), st.integers(0, 4), st.integers(1, 8))
def test_gpu_node_counts_never_fall_when_the_pool_limits_grow(min_nodes, span, zones, min_replicas, extra_replicas):
    max_nodes = min_nodes + span
    models = [model(min_replicas + extra_replicas, min_replicas)]

    def counts(lo: int, hi: int) -> tuple[int, int]:
        pool = GpuPoolSpec(accelerator="nvidia-l4", machine_type="g2-standard-8", min_nodes=lo, max_nodes=hi)
        layout = gpu_pool_layout(pool, zones, models)
        assert layout.min_nodes <= layout.always_on_nodes <= layout.busy_nodes <= layout.max_nodes
        return layout.always_on_nodes, layout.busy_nodes

    base = counts(min_nodes, max_nodes)
    for grown in (counts(min_nodes + 1, max_nodes + 1), counts(min_nodes, max_nodes + 1)):
        assert grown[0] >= base[0] and grown[1] >= base[1]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), hours)
def test_more_system_nodes_never_cost_less(per_zone, h):
    a = estimate("p", small_config(substrate={"system_nodes_per_zone": per_zone}), TABLE, Assumptions(busy_hours=h))
    b = estimate("p", small_config(substrate={"system_nodes_per_zone": per_zone + 1}), TABLE, Assumptions(busy_hours=h))
    assert b.idle_total > a.idle_total and b.busy_total > a.busy_total


def test_hours_busy_changes_the_busy_total_and_not_the_idle_one():
    cfg = small_config()
    a, b = (estimate("p", cfg, TABLE, Assumptions(busy_hours=h)) for h in (40, 200))
    assert a.idle_total == b.idle_total
    assert b.busy_total > a.busy_total


@given(st.lists(st.integers(1, 4), max_size=12), st.integers(4, 8))
def test_packing_needs_at_least_the_gpu_total_and_at_most_one_node_per_replica(sizes, slots):
    n = nodes_for(sizes, slots)
    assert -(-sum(sizes) // slots) <= n <= len(sizes)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 8), st.integers(0, 8), st.integers(0, 4), st.integers(0, 8))
def test_gpu_node_counts_are_the_configured_totals_whatever_the_zone_count(min_nodes, span, min_replicas, extra):
    """GKE's total limits (substrates/gke/gpu_pool.py) keep and allow exactly the configured totals: spreading
    the pool over more zones never changes what it costs (per-zone limits rounded up once did)."""
    pool = GpuPoolSpec(accelerator="nvidia-l4", machine_type="g2-standard-8", min_nodes=min_nodes,
                   max_nodes=min_nodes + span + 1)
    models = [model(min_replicas + extra, min_replicas)] if min_replicas + extra else []
    layouts = [gpu_pool_layout(pool, zones, models) for zones in (1, 2, 3, 4)]
    assert {(g.min_nodes, g.max_nodes) for g in layouts} == {(pool.min_nodes, pool.max_nodes)}
    assert len({(g.always_on_nodes, g.busy_nodes) for g in layouts}) == 1


def test_a_gke_layout_is_regional_by_default():
    layout = gke_layout(small_config())
    assert (layout.location_kind, layout.location) == (LocationKind.REGIONAL, "us-central1")


def test_a_zonal_layout_sits_in_the_first_zone_with_the_system_pool_there_only():
    cfg = small_config(substrate={"zones": ["us-central1-c", "us-central1-a"], "location": "zonal",
                                  "system_nodes_per_zone": 2, "system_spot": True, "system_disk_size_gb": 30})
    layout = gke_layout(cfg)
    system, gpu = layout.pools
    assert (layout.location_kind, layout.location) == (LocationKind.ZONAL, "us-central1-c")
    assert (system.always_on_nodes, system.spot, system.disk_size_gb) == (2, True, 30)
    assert gpu.max_nodes == cfg.gpu_pool.max_nodes, "the GPU pool's limit is its total over both zones"


def test_a_regional_system_pool_has_its_nodes_in_every_zone():
    cfg = small_config(substrate={"zones": ["us-central1-a", "us-central1-b", "us-central1-c"],
                                  "system_nodes_per_zone": 2})
    assert gke_layout(cfg).pools[0].always_on_nodes == 6
