"""The GKE substrate's cluster shape: regional by default, cheap zonal/Spot shapes for dev, refused on prod."""

from __future__ import annotations

import pytest

from llmplatform.config import load_platform_config
from llmplatform.config.model import ClusterLocation

from .test_stack_config import problems_of, stack_raw

PROD_ZONAL = ("substrate.location: 'zonal' is not allowed; prod must be regional: a zonal control plane is one "
              "replica in one zone, so a zone outage or a control-plane upgrade stops scheduling, and LiteLLM and "
              "the budget database's Postgres replicas cannot fail over")
PROD_SPOT = ("substrate.system_spot: true is not allowed; prod must not run the system pool on Spot: one "
             "preemption evicts the controllers, LiteLLM and the budget database's Postgres at once (SR3 needs "
             "them highly available)")


def test_a_substrate_without_the_new_keys_keeps_todays_regional_on_demand_100_gb_system_pool():
    raw = stack_raw("dev")
    for key in ("location", "system_spot", "system_disk_size_gb"):
        raw["substrate"].pop(key, None)
    sub = load_platform_config(raw).substrate
    assert (sub.location, sub.system_spot, sub.system_disk_size_gb) == (ClusterLocation.REGIONAL, False, 100)


def test_the_dev_stack_uses_the_cheap_shape():
    sub = load_platform_config(stack_raw("dev")).substrate
    assert sub.location == ClusterLocation.ZONAL and sub.system_spot and sub.system_nodes_per_zone == 1
    assert sub.system_disk_size_gb < 100


def test_the_prod_stack_stays_regional_and_on_demand():
    sub = load_platform_config(stack_raw("prod")).substrate
    assert sub.location == ClusterLocation.REGIONAL and not sub.system_spot


def test_prod_refuses_a_zonal_cluster_and_says_why():
    raw = stack_raw("prod")
    raw["substrate"]["location"] = "zonal"
    text = problems_of(raw)
    assert f"  - {PROD_ZONAL}" in text.splitlines() and "1 problem(s)" in text


def test_prod_refuses_a_spot_system_pool_and_says_why():
    raw = stack_raw("prod")
    raw["substrate"]["system_spot"] = True
    text = problems_of(raw)
    assert f"  - {PROD_SPOT}" in text.splitlines() and "1 problem(s)" in text


def test_prod_reports_both_cheap_shapes_at_once():
    raw = stack_raw("prod")
    raw["substrate"].update(location="zonal", system_spot=True)
    text = problems_of(raw)
    assert "2 problem(s)" in text and PROD_ZONAL in text and PROD_SPOT in text


def test_dev_may_be_zonal_with_a_spot_system_pool():
    raw = stack_raw("dev")
    raw["substrate"].update(location="zonal", system_spot=True)
    assert load_platform_config(raw).substrate.system_spot


def test_an_unknown_location_lists_the_allowed_ones():
    raw = stack_raw("dev")
    raw["substrate"]["location"] = "multi-regional"
    assert "substrate.location: 'multi-regional' is not allowed; must be one of: 'regional' or 'zonal'" \
        in problems_of(raw)


@pytest.mark.parametrize(("size", "rule"), [(9, "must be >= 10"), (65537, "must be <= 65536")])
def test_the_system_disk_size_must_be_within_gkes_limits(size, rule):
    raw = stack_raw("dev")
    raw["substrate"]["system_disk_size_gb"] = size
    assert f"substrate.system_disk_size_gb: {size} is not allowed; {rule}" in problems_of(raw)


@pytest.mark.parametrize("size", [10, 30, 65536])
def test_the_system_disk_size_limits_are_inclusive(size):
    raw = stack_raw("dev")
    raw["substrate"]["system_disk_size_gb"] = size
    assert load_platform_config(raw).substrate.system_disk_size_gb == size
