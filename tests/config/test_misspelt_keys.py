"""A misspelt key is one problem that names the key meant, at any depth, required or not."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from llmplatform.config import ConfigError, PlatformConfig, load_platform_config
from llmplatform.config.errors import known_keys

ROOT = Path(__file__).resolve().parents[2]
DEV = {k.split(":", 1)[1]: v for k, v in yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"].items()}


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    return [line[4:] for line in str(info.value).splitlines()[1:]]


def renamed(node: dict, old: str, new: str) -> None:
    node[new] = node.pop(old)


def test_a_misspelt_required_key_is_one_problem_suggesting_the_key():
    raw = copy.deepcopy(DEV)
    renamed(raw["tenants"][0], "budget_usd", "budjet_usd")
    assert problems(raw) == ["tenants[0].budjet_usd: is not a known key; did you mean 'budget_usd'? (it is required)"]


def test_a_misspelt_top_level_block_with_a_default_is_suggested_too():
    raw = copy.deepcopy(DEV)
    renamed(raw, "tenant_gateway", "tenant_gatway")
    assert problems(raw) == ["tenant_gatway: is not a known key; did you mean 'tenant_gateway'?"]


def test_keys_inside_the_substrate_union_and_nested_blocks_are_suggested():
    raw = copy.deepcopy(DEV)
    renamed(raw["substrate"], "project", "projcet")
    renamed(raw["substrate"], "kind", "knid")
    raw["models"][0]["autoscaling"] = {"cooldown_secs": 60}
    assert problems(raw) == [
        "models[0].autoscaling.cooldown_secs: is not a known key; did you mean 'cooldown_seconds'?",
        "substrate.knid: is not a known key; did you mean 'kind'? (it is required)",
    ]  # the substrate's other keys are only checked once its kind is known
    renamed(raw["substrate"], "knid", "kind")
    assert "substrate.projcet: is not a known key; did you mean 'project'? (it is required)" in problems(raw)


def test_an_unknown_key_like_no_known_one_lists_the_keys_there():
    raw = copy.deepcopy(DEV)
    raw["gpu_pool"]["colour"] = "green"
    (only,) = problems(raw)
    assert only.startswith("gpu_pool.colour: is not a known key; known keys here: accelerator, machine_type, ")


def test_two_keys_missing_and_one_unrelated_unknown_key_stay_three_problems():
    raw = copy.deepcopy(DEV)
    del raw["tenants"][1]["rpm"]
    del raw["tenants"][1]["tpm"]
    raw["tenants"][1]["colour"] = "green"
    assert sorted(problems(raw)) == [
        "tenants[1].colour: is not a known key; known keys here: name, budget_usd, rpm, tpm, allowed_models, gpu_quota",
        "tenants[1].rpm: is required; add it to the stack config",
        "tenants[1].tpm: is required; add it to the stack config",
    ]


def test_the_known_keys_follow_lists_and_union_tags():
    assert known_keys(PlatformConfig, ("tenants", 3)) == list(PlatformConfig.model_fields["tenants"].annotation
                                                              .__args__[0].model_fields)
    assert "project" in known_keys(PlatformConfig, ("substrate", "gke"))
    assert "gpu_name" in known_keys(PlatformConfig, ("substrate", "vast"))
    assert known_keys(PlatformConfig, ("substrate",)) == [], "which substrate is unknown before its tag"
    assert known_keys(PlatformConfig, ("tenants", 0, "name")) == []


LEAF_KEYS = [("tenants", 0, "budget_usd"), ("tenants", 1, "allowed_models"), ("gpu_pool", "machine_type"),
             ("gpu_pool", "max_nodes"), ("substrate", "region"), ("substrate", "system_spot"),
             ("models", 0, "served_name"), ("models", 0, "max_num_seqs"), ("tenant_gateway", "redis"), ("profile",)]


@settings(max_examples=120, deadline=None)
@given(where=st.sampled_from(LEAF_KEYS), edit=st.sampled_from(["drop", "double", "swap"]), pos=st.integers(1, 6))
def test_any_one_letter_slip_in_a_key_is_reported_once_with_the_right_suggestion(where, edit, pos):
    *parent_path, key = where
    pos = min(pos, len(key) - 2)
    wrong = {"drop": key[:pos] + key[pos + 1:], "double": key[:pos] + key[pos] + key[pos:],
             "swap": key[:pos] + key[pos + 1] + key[pos] + key[pos + 2:]}[edit]
    if wrong == key:
        return
    raw = copy.deepcopy(DEV)
    parent = raw
    for part in parent_path:
        parent = parent[part]
    renamed(parent, key, wrong)
    found = problems(raw)
    assert len(found) == 1, found
    assert re.search(rf"\.?{re.escape(wrong)}: is not a known key; did you mean '{key}'\?", found[0]), found
