"""The stack config: realistic stacks load, and every bad value is named with its key path."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplatform.config import ConfigError, GpuSharing, PrefixCacheMode, Profile, TrustTier, load_platform_config
from llmplatform.config.rules import control_plan_for

ROOT = Path(__file__).resolve().parents[2]


def stack_raw(stack: str) -> dict:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items()}


def problems_of(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    return str(info.value)


def test_dev_stack_is_a_single_spot_l4_that_scales_to_zero_with_two_tenants():
    cfg = load_platform_config(stack_raw("dev"))
    assert cfg.profile == Profile.DEV and cfg.trust_tier == TrustTier.TRUSTED
    assert cfg.gpu_pool.accelerator == "nvidia-l4" and cfg.gpu_pool.spot and cfg.gpu_pool.min_nodes == 0
    assert cfg.gpu_pool.max_nodes * cfg.gpu_pool.gpus_per_node == 1
    assert len(cfg.models) == 1 and cfg.models[0].min_replicas == 0
    assert len(cfg.tenants) == 2
    assert not control_plan_for(cfg).fail_closed


def test_prod_stack_is_ha_with_several_models_and_tenants_and_fails_closed():
    cfg = load_platform_config(stack_raw("prod"))
    assert cfg.profile == Profile.PROD and cfg.trust_tier.rank >= TrustTier.MULTI_TEAM.rank
    assert len(cfg.models) >= 3 and len(cfg.tenants) >= 3
    assert cfg.tenant_gateway.postgres_instances >= 3 and cfg.tenant_gateway.redis
    assert cfg.tenant_gateway.replicas >= 2 and control_plan_for(cfg).fail_closed
    assert control_plan_for(cfg).prefix_cache_mode == PrefixCacheMode.TENANT_SALTED


def test_negative_budget_is_reported_with_its_key_path_value_and_rule():
    raw = stack_raw("dev")
    raw["tenants"][1]["budget_usd"] = -5
    assert "tenants[1].budget_usd: -5 is not allowed; must be > 0" in problems_of(raw)


def test_every_problem_is_reported_at_once():
    raw = stack_raw("dev")
    raw["tenants"][0]["rpm"] = 0
    raw["trust_tier"] = "mostly-trusted"
    raw["models"][0]["revision"] = "main"
    raw["gpu_pool"]["maxnodes"] = 3
    text = problems_of(raw)
    for path in ("tenants[0].rpm", "trust_tier", "models[0].revision", "gpu_pool.maxnodes"):
        assert f"- {path}:" in text
    assert "4 problem(s)" in text


def test_a_missing_key_says_it_is_required():
    raw = stack_raw("dev")
    del raw["substrate"]["project"]
    assert "substrate.project: is required" in problems_of(raw)


def test_the_machine_type_must_carry_the_accelerator():
    raw = stack_raw("dev")
    raw["gpu_pool"]["machine_type"] = "a2-highgpu-1g"
    assert "gpu_pool.machine_type: 'a2-highgpu-1g' is not allowed; must be a machine type that carries nvidia-l4" \
        in problems_of(raw)


def test_gpus_per_node_must_match_the_machine_shape():
    raw = stack_raw("dev")
    raw["gpu_pool"]["gpus_per_node"] = 2  # g2-standard-8 carries exactly one L4
    assert "gpu_pool.gpus_per_node: 2 is not allowed; g2-standard-8 carries 1 x nvidia-l4" in problems_of(raw)


def test_mig_is_refused_on_l4_and_accepted_on_a100_with_a_valid_partition():
    raw = stack_raw("dev")
    raw["gpu_pool"]["sharing"] = "mig"
    assert "gpu_pool.sharing: 'mig' is not allowed; nvidia-l4 is not MIG-capable" in problems_of(raw)
    raw["gpu_pool"].update(accelerator="nvidia-tesla-a100", machine_type="a2-highgpu-1g", mig_partition_size="1g.5gb")
    cfg = load_platform_config(raw)
    assert cfg.gpu_pool.sharing == GpuSharing.MIG


def test_a_tenant_may_only_allow_configured_models():
    raw = stack_raw("prod")
    raw["tenants"][2]["allowed_models"] = ["qwen-7b", "gpt-5"]
    assert "tenants[2].allowed_models[1]: 'gpt-5' is not allowed; must name a configured model" in problems_of(raw)


def test_tenant_quotas_must_fit_the_pool():
    raw = stack_raw("prod")
    raw["tenants"][0]["gpu_quota"] = 40
    assert "tenant gpu_quota adds up to 46 GPUs; the pool has at most 14" in problems_of(raw)


def test_a_model_replica_must_fit_on_one_node():
    raw = stack_raw("dev")
    raw["models"][0]["gpus_per_replica"] = 2
    assert "models[0].gpus_per_replica: 2 is not allowed; model 'qwen-coder-1-5b' needs 2 GPUs per replica" in problems_of(raw)


def test_time_sharing_multiplies_pool_capacity():
    raw = stack_raw("dev")
    raw["gpu_pool"].update(sharing="time-sharing", max_shared_clients_per_gpu=4)
    raw["tenants"][0]["gpu_quota"] = 4
    assert load_platform_config(raw).gpu_pool.capacity == 4


def test_prod_refuses_the_trusted_tier_and_fail_open_settings():
    raw = stack_raw("prod")
    raw["trust_tier"] = "trusted"
    raw["tenant_gateway"].update(postgres_instances=1, redis=False, key_cache_ttl_seconds=600)
    del raw["tenant_gateway"]["backup_bucket"]
    text = problems_of(raw)
    assert "trust_tier: 'trusted' is not allowed; prod must be at least multi-team" in text
    assert "tenant_gateway.postgres_instances: 1 is not allowed" in text
    # prod's HPA may run max_replicas (8) pods: that many budgets without shared counters
    assert "tenant_gateway.redis: false is not allowed; 8 gateway replicas without Redis" in text
    assert "tenant_gateway.key_cache_ttl_seconds: 600 is not allowed" in text
    assert "tenant_gateway.backup_bucket: is required" in text


def test_zones_must_lie_in_the_region():
    raw = stack_raw("dev")
    raw["substrate"]["zones"] = ["europe-west4-a"]
    assert "substrate.zones:" in problems_of(raw)


# --- hypothesis: any single bad value is reported by path, as a ConfigError, never a traceback ---

_BAD_VALUES = {
    # Text pydantic cannot read as a number: "1" would be coerced to a valid budget.
    ("tenants", 0, "budget_usd"): st.one_of(st.floats(max_value=0, allow_nan=False),
                                            st.text(alphabet="abc xyz-", max_size=5)),
    ("tenants", 1, "rpm"): st.integers(max_value=0),
    ("tenants", 0, "name"): st.text(alphabet="ABC_ !/", min_size=1, max_size=8),
    ("models", 0, "max_num_seqs"): st.integers(max_value=0) | st.integers(min_value=1025),
    ("models", 0, "revision"): st.text(alphabet="xyz", max_size=39),
    ("models", 0, "hf_id"): st.text(alphabet=" :", min_size=1, max_size=6),
    ("gpu_pool", "accelerator"): st.sampled_from(["nvidia-b200", "tpu-v5", "", "L4"]),
    ("gpu_pool", "max_nodes"): st.integers(max_value=0) | st.integers(min_value=101),
    ("gpu_pool", "sharing"): st.text(alphabet="qwe", min_size=1, max_size=5),
    ("substrate", "release_channel"): st.sampled_from(["BETA", "regular", "nightly"]),
    ("profile",): st.sampled_from(["staging", "Prod", ""]),
    ("tenant_gateway", "replicas"): st.integers(max_value=0) | st.integers(min_value=21),
}


def _set(raw: dict, path: tuple, value) -> None:
    node = raw
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _path_text(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_any_single_bad_value_is_named_by_its_key_path(data):
    path = data.draw(st.sampled_from(sorted(_BAD_VALUES, key=str)))
    value = data.draw(_BAD_VALUES[path])
    raw = copy.deepcopy(stack_raw("dev"))
    _set(raw, path, value)
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    assert f"- {_path_text(path)}:" in str(info.value)
    assert info.value.exit_code == 2


@settings(max_examples=60, deadline=None)
@given(junk=st.dictionaries(st.text(alphabet="abcdefgh_", min_size=1, max_size=8), st.integers(), min_size=1, max_size=3))
def test_unknown_keys_are_refused_by_name(junk):
    raw = stack_raw("dev")
    known = set(raw) | {"governance"}
    junk = {k: v for k, v in junk.items() if k not in known}
    if not junk:
        return
    raw.update(junk)
    text = problems_of(raw)
    for key in junk:
        assert f"- {key}: " in text and "is not a known key" in text


def test_a_key_rotation_epoch_must_be_a_plain_label():
    raw = stack_raw("prod")
    raw["tenant_gateway"]["key_rotation"] = "nov 2026!"
    message = problems_of(raw)
    assert "tenant_gateway.key_rotation: 'nov 2026!' is not allowed; must match ^[A-Za-z0-9._-]*$" in message
    raw["tenant_gateway"]["key_rotation"] = "2026-11"
    assert load_platform_config(raw).tenant_gateway.key_rotation == "2026-11"
