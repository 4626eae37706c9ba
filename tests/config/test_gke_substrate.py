"""The GKE substrate's cluster shape: regional by default, cheap zonal/Spot shapes for dev, refused on prod;
the API endpoint and the authorized networks that can reach it."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplatform.config import load_platform_config
from llmplatform.config.model import ApiEndpoint, ClusterLocation, api_endpoint_violations, non_public_range

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


# --- substrate.api_endpoint (issue 13 A) ---

PUBLIC_WITH_PRIVATE_RANGE = (
    "substrate.master_authorized_cidrs[0]: '10.0.0.0/8' is not allowed; must be a public range while api_endpoint "
    "is public: it lies in RFC 1918 private address space, from which no caller reaches the public endpoint; set "
    "api_endpoint: private (runners inside the VPC or connected to it), or list the runners' public egress ranges")
PRIVATE_WITHOUT_PRIVATE_NODES = (
    "substrate.api_endpoint: 'private' is not allowed; a private endpoint requires private_nodes: true (GKE has one "
    "only on a cluster with private nodes); set private_nodes: true, or api_endpoint: public")


def test_the_endpoint_defaults_to_public_so_dev_needs_no_runner_in_the_vpc():
    sub = load_platform_config(stack_raw("dev")).substrate
    assert "api_endpoint" not in stack_raw("dev")["substrate"]
    assert sub.api_endpoint == ApiEndpoint.PUBLIC and sub.master_authorized_cidrs == ()


def test_the_prod_stack_uses_the_private_endpoint_its_vpc_range_can_reach():
    sub = load_platform_config(stack_raw("prod")).substrate
    assert sub.api_endpoint == ApiEndpoint.PRIVATE and sub.private_nodes
    assert sub.master_authorized_cidrs == ("10.0.0.0/8",)


def test_a_public_endpoint_with_a_private_authorized_range_is_refused_and_says_why():
    raw = stack_raw("prod")
    raw["substrate"]["api_endpoint"] = "public"  # prod as it was before issue 13: unreachable
    text = problems_of(raw)
    assert f"  - {PUBLIC_WITH_PRIVATE_RANGE}" in text.splitlines() and "1 problem(s)" in text


def test_a_private_endpoint_without_private_nodes_is_refused_and_says_why():
    raw = stack_raw("dev")
    raw["substrate"].update(api_endpoint="private", private_nodes=False)
    text = problems_of(raw)
    assert f"  - {PRIVATE_WITHOUT_PRIVATE_NODES}" in text.splitlines() and "1 problem(s)" in text


@pytest.mark.parametrize(("cidr", "kind"), [("100.64.0.0/16", "RFC 6598 shared (CGNAT)"),
                                            ("169.254.0.0/16", "RFC 3927 link-local"),
                                            ("192.168.10.0/24", "RFC 1918 private"),
                                            ("172.20.0.0/16", "RFC 1918 private")])
def test_every_kind_of_non_public_range_is_named_on_a_public_endpoint(cidr, kind):
    raw = stack_raw("dev")
    raw["substrate"]["master_authorized_cidrs"] = ["203.0.113.0/24", cidr]
    text = problems_of(raw)
    assert f"substrate.master_authorized_cidrs[1]: '{cidr}' is not allowed; must be a public range" in text
    assert f"it lies in {kind} address space" in text and "1 problem(s)" in text


def test_a_private_endpoint_with_a_public_authorized_range_is_refused():
    raw = stack_raw("prod")
    raw["substrate"]["master_authorized_cidrs"] = ["10.0.0.0/8", "203.0.113.0/24"]
    text = problems_of(raw)
    assert ("substrate.master_authorized_cidrs[1]: '203.0.113.0/24' is not allowed; must be a private range "
            "(RFC 1918 or another reserved range) while api_endpoint is private") in text
    assert "1 problem(s)" in text


def test_a_malformed_authorized_range_is_refused_in_either_mode():
    for endpoint in ("public", "private"):
        raw = stack_raw("prod")
        raw["substrate"].update(api_endpoint=endpoint, master_authorized_cidrs=["10.0.0.1/8"])
        assert ("substrate.master_authorized_cidrs[0]: '10.0.0.1/8' is not allowed; must be a CIDR block like "
                "203.0.113.0/24") in problems_of(raw)


def test_an_unknown_endpoint_lists_the_allowed_ones():
    raw = stack_raw("dev")
    raw["substrate"]["api_endpoint"] = "internal"
    assert "substrate.api_endpoint: 'internal' is not allowed; must be one of: 'public' or 'private'" \
        in problems_of(raw)


def test_the_endpoint_problems_are_reported_with_other_substrate_problems_at_once():
    raw = stack_raw("prod")
    raw["substrate"].update(api_endpoint="private", private_nodes=False, master_authorized_cidrs=["203.0.113.0/24"])
    text = problems_of(raw)
    assert "2 problem(s)" in text and PRIVATE_WITHOUT_PRIVATE_NODES in text
    assert "substrate.master_authorized_cidrs[0]: '203.0.113.0/24'" in text


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_every_well_formed_range_is_allowed_with_exactly_one_endpoint_kind(address, prefix):
    cidr = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    accepted = {endpoint for endpoint in ApiEndpoint
                if not api_endpoint_violations(api_endpoint=endpoint, private_nodes=True,
                                               master_authorized_cidrs=(cidr,))}
    assert len(accepted) == 1
    assert accepted == {ApiEndpoint.PRIVATE if non_public_range(cidr) else ApiEndpoint.PUBLIC}
