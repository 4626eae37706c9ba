"""The gateway sizing rule: hand-computed cases, the refusal of a load that cannot fit, and its properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplatform.config import ConfigError, load_platform_config
from llmplatform.gateway.capacity import GatewayLoad, Measured, capacity_problems, size_gateway
from tests.config.test_stack_config import stack_raw

TEN_MS = Measured(litellm="test", cpu_ms_per_request=10.0, resident_mib_per_worker=1300, date="d", machine="m")
"""10 ms of CPU per request: one worker carries 100 req/s at full CPU."""


def load(rpm, *, floor=3, max_replicas=8, peak=2.0, target=0.5) -> GatewayLoad:
    return GatewayLoad(tenant_rpm=rpm, floor=floor, max_replicas=max_replicas, peak_factor=peak,
                       target_cpu_utilization=target)


def test_hand_computed_prod_like_case():
    # 6000 rpm = 100 req/s; x2 peak = 200 req/s. A pod: 100 req/s saturated, 50 at the 0.5 target.
    cap = size_gateway(load([3000, 2000, 1000]), TEN_MS)
    assert cap.tenants_rps == pytest.approx(100) and cap.peak_rps == pytest.approx(200)
    assert cap.per_pod_rps_saturated == pytest.approx(100) and cap.per_pod_rps_at_target == pytest.approx(50)
    assert cap.min_replicas == 3          # floor 3 carries 300 req/s saturated >= the 200 peak
    assert cap.needed_at_target == 4      # 200 / 50
    assert cap.max_replicas == 8 and cap.autoscaled
    # CPU at peak over the 3 minimum pods: 66.7 req/s x 10 ms = 667m, / 0.5 = 1333m -> capped at one core.
    assert cap.cpu_request_m == 1000
    assert cap.hpa_cpu_target_m == 500
    # Memory: 1300 MiB x 1.1 = 1430 -> 1536 (12 x 128); limit + 1 GiB.
    assert (cap.memory_request_mi, cap.memory_limit_mi) == (1536, 2560)
    assert capacity_problems(load([3000, 2000, 1000]), TEN_MS) == []


def test_a_floor_that_cannot_absorb_the_peak_at_full_cpu_is_raised():
    # 30000 rpm = 500 req/s, x2 = 1000 req/s: 10 pods saturated, 20 at target.
    cap = size_gateway(load([30000], floor=2, max_replicas=25), TEN_MS)
    assert cap.min_replicas == 10 and cap.needed_at_target == 20 and cap.max_replicas == 25


def test_a_small_load_gets_the_cpu_floor_and_no_autoscaler():
    # 90 rpm = 1.5 req/s, x2 = 3 req/s on one pod: 3 x 10 ms = 30m / 0.5 = 60m -> 250m floor.
    cap = size_gateway(load([60, 30], floor=1, max_replicas=1), TEN_MS)
    assert (cap.min_replicas, cap.max_replicas, cap.cpu_request_m) == (1, 1, 250)
    assert not cap.autoscaled


def test_a_load_beyond_the_maximum_is_refused_naming_the_keys():
    problems = capacity_problems(load([30000], floor=3, max_replicas=12), TEN_MS)
    assert [p.path for p in problems] == ["tenant_gateway.max_replicas"]
    reason = problems[0].reason
    assert "needs 20 LiteLLM pods" in reason and "tenants[*].rpm" in reason and "peak_factor" in reason


def test_a_maximum_below_the_floor_is_refused():
    problems = capacity_problems(load([60], floor=3, max_replicas=2), TEN_MS)
    assert [p.path for p in problems] == ["tenant_gateway.max_replicas"]
    assert "must be >= tenant_gateway.replicas (3)" in problems[0].reason


def test_the_stack_config_refuses_tenants_the_gateway_cannot_carry():
    raw = stack_raw("prod")
    raw["tenants"][0]["rpm"] = 200_000  # 3333 req/s of RPM limits on a gateway of at most 8 pods
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    text = str(info.value)
    assert "tenant_gateway.max_replicas: 8" in text and "LiteLLM pods" in text


def test_the_measured_record_is_the_pinned_litellm():
    measured = Measured.load()
    assert measured.litellm == "1.100.1" and measured.cpu_ms_per_request > 0 and measured.resident_mib_per_worker > 0


@given(rpm=st.lists(st.integers(1, 100_000), min_size=1, max_size=20), floor=st.integers(1, 10),
       peak=st.floats(1, 10), target=st.floats(0.2, 0.9), cpu=st.floats(1, 50))
def test_whatever_fits_carries_the_peak(rpm, floor, peak, target, cpu):
    measured = Measured(litellm="t", cpu_ms_per_request=cpu, resident_mib_per_worker=1300, date="d", machine="m")
    cap = size_gateway(load(rpm, floor=floor, max_replicas=100, peak=peak, target=target), measured)
    # The minimum pods absorb the peak at full CPU; the maximum at the target; the floor is kept.
    assert cap.min_replicas >= floor
    assert cap.min_replicas * cap.per_pod_rps_saturated >= cap.peak_rps - 1e-6
    if not capacity_problems(load(rpm, floor=floor, max_replicas=100, peak=peak, target=target), measured):
        assert cap.max_replicas * cap.per_pod_rps_at_target >= cap.peak_rps - 1e-6
    assert 250 <= cap.cpu_request_m <= 1000 and cap.cpu_request_m % 100 == 0 or cap.cpu_request_m == 250
    assert cap.memory_request_mi >= 1300 and cap.memory_request_mi % 128 == 0
    assert math.isclose(cap.hpa_cpu_target_m, round(1000 * target))


def test_an_autoscaled_gateway_without_redis_is_refused_like_fixed_replicas():
    # Each pod counts spend in its own memory without Redis: the HPA's maximum is what may run at once.
    raw = stack_raw("dev")
    raw["tenant_gateway"] = {**raw["tenant_gateway"], "replicas": 1, "max_replicas": 3, "redis": False}
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    assert "tenant_gateway.redis" in str(info.value) and "3 gateway replicas without Redis" in str(info.value)
