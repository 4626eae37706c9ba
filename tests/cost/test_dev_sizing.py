"""The dev system pool holds every non-GPU pod: plan requests vs GKE's allocatable, and the doc's table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmplatform.config.model import ClusterLocation
from llmp.cost.layout import system_pool_layout
from llmp.cost.sizing import (
    CHART_PODS,
    MACHINE_SHAPES,
    MachineShape,
    Requests,
    UnknownChart,
    allocatable,
    fit,
    plan_rows,
    pod_requests,
    sizing_markdown,
)
from llmp.cost.stack import stack_platform_config


ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "cost.md").read_text()


@pytest.fixture(scope="module")
def dev_rows(planned):
    # `llmp plan dev -q` once for the whole run (tests/conftest.py `planned`), not once more here.
    return plan_rows(json.loads((planned("dev") / "plan.json").read_text())["resources"])


def test_gke_reserves_what_its_docs_example_shows_for_four_vcpus():
    """The GKE docs' 4-vCPU node shows `cpu: 3920m` allocatable: 4000 - 60 - 10 - 2 x 5."""
    assert allocatable(MachineShape(vcpus=4, memory_gib=16)).cpu_m == 3920


def test_allocatable_of_an_e2_standard_2_by_hand():
    """CPU: 2000 - 6% of 1000 - 1% of 1000 = 1930 m. Memory: 8192 - 25% of 4096 - 20% of 4096 - 100 MiB
    eviction threshold = 8192 - 1024 - 819.2 - 100 = 6248.8 MiB."""
    assert allocatable(MACHINE_SHAPES["e2-standard-2"]) == Requests(1930, 6248.8)


def test_a_pod_asks_for_its_containers_sum_or_its_largest_init_container():
    spec = {"initContainers": [{"resources": {"requests": {"cpu": "1", "memory": "64Mi"}}}],
            "containers": [{"resources": {"requests": {"cpu": "250m", "memory": "1Gi"}}},
                           {"resources": {"limits": {"cpu": "100m", "memory": "512Mi"}}}]}
    assert pod_requests(spec) == Requests(1000, 1536)


def test_a_gpu_pod_is_left_to_the_gpu_pool():
    spec = {"containers": [{"resources": {"requests": {"cpu": "4", "nvidia.com/gpu": "1"}}}]}
    assert pod_requests(spec) is None


def test_chart_pods_use_the_release_values_over_the_chart_defaults():
    release = {"type": "kubernetes:helm.sh/v3:Release", "name": "r", "inputs": {
        "chart": "keda", "version": "2.20.2",
        "values": {"operator": {"replicaCount": 2.0}, "resources": {"operator": {"requests": {"cpu": "50m"}}}}}}
    rows = {r.workload: r for r in plan_rows([release])}
    assert rows["r: operator"].total == Requests(100, 0) and rows["r: operator"].source == "keda 2.20.2 values"
    assert rows["r: metrics-apiserver"].total == Requests(100, 100)


def test_a_chart_version_without_known_defaults_is_refused():
    release = {"type": "kubernetes:helm.sh/v3:Release", "name": "r",
               "inputs": {"chart": "keda", "version": "9.9.9", "values": {}}}
    with pytest.raises(UnknownChart, match="keda 9.9.9"):
        plan_rows([release])


def test_every_chart_the_dev_plan_installs_has_known_defaults(dev_rows):
    charts = {row.source.rsplit(" ", 1)[0] for row in dev_rows if row.source.endswith((" default", " values"))}
    known = {f"{chart.rsplit('/', 1)[-1]} {version}" for chart, version in CHART_PODS}
    assert charts and charts <= known | {"istiod proxy"}


def test_the_dev_system_pool_holds_every_non_gpu_pod(dev_rows):
    cfg = stack_platform_config(ROOT, "dev")
    pool = system_pool_layout(cfg.substrate)
    got = fit(dev_rows, pool.machine_type, pool.always_on_nodes)
    assert got.fits, f"{pool.machine_type} x {pool.always_on_nodes}: requested {got.requested}, room {got.allocatable}"
    assert cfg.substrate.location == ClusterLocation.ZONAL and pool.always_on_nodes == 1


def test_the_doc_shows_the_current_sizing_table(dev_rows):
    pool = system_pool_layout(stack_platform_config(ROOT, "dev").substrate)
    fits = [fit(dev_rows, "e2-standard-2", 1), fit(dev_rows, pool.machine_type, pool.always_on_nodes)]
    assert sizing_markdown(dev_rows, fits) in DOC, "regenerate the 'Dev sizing' table in docs/cost.md"
