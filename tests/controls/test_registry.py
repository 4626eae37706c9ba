"""The control registry is the one list: the pack configs equal it, the pack, the tier plan and the folders agree.

`policy/config/<profile>.json` is written from the registry; after adding a control or a policy,
re-write both files with

    LLMP_WRITE_POLICY_CONFIG=1 .venv/bin/python -m pytest tests/controls/test_registry.py
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest

from llmplatform.controls import registry, tiers
from llmp.plan.crossguard import pack_config
from substrates.capabilities import SubstrateCapabilities

ROOT = Path(__file__).resolve().parents[2]
CONTROLS_DIR = ROOT / "llmplatform" / "controls"
PACK = ROOT / "policy"


@pytest.mark.parametrize("profile", sorted(registry.PACK_LEVELS))
def test_each_pack_config_file_is_the_registrys(profile: str) -> None:
    path = PACK / "config" / f"{profile}.json"
    expected = json.dumps(registry.pack_config(profile), indent=2) + "\n"
    if os.environ.get("LLMP_WRITE_POLICY_CONFIG"):
        path.write_text(expected)
    assert path.read_text() == expected, (
        f"{path.relative_to(ROOT)} is not what llmplatform/controls/registry.py says; re-write it with "
        "LLMP_WRITE_POLICY_CONFIG=1 (module docstring)")


def test_the_pack_holds_exactly_the_registrys_policies_in_its_order() -> None:
    rules = pack_config.load_rules(PACK)
    assert [p.name for p in rules.ALL_POLICIES] == registry.policy_names()


def test_a_policy_is_profile_pinned_exactly_when_it_takes_a_profile() -> None:
    rules = {p.name: p for p in pack_config.load_rules(PACK).ALL_POLICIES}
    for control in registry.CONTROLS:
        for rule in control.policies:
            schema = rules[rule.name].config_schema
            assert rule.profile_pinned == bool(schema and "profile" in schema.properties), rule.name


def test_control_keys_and_policy_names_are_unique() -> None:
    keys = [c.key for c in registry.CONTROLS]
    assert len(keys) == len(set(keys))
    assert len(registry.policy_names()) == len(set(registry.policy_names()))


def test_every_decided_control_is_a_decision_of_the_plan_in_registry_order() -> None:
    caps = SubstrateCapabilities(display_name="reference", gpus_per_node=1)
    plan = tiers.plan_controls(trust_tier=tiers.TrustTier.UNTRUSTED, profile=tiers.Profile.PROD, capabilities=caps)
    assert [d.key for d in plan.decisions] == [c.key for c in registry.CONTROLS if c.decided]
    assert [d.title for d in plan.decisions] == [c.title for c in registry.CONTROLS if c.decided]
    for control in registry.CONTROLS:
        assert control.decided_by is None or plan.decision(control.decided_by)


def test_every_render_is_a_module_with_a_pure_builder_in_the_controls_folder() -> None:
    for control in registry.CONTROLS:
        if control.render is not None:
            assert control.render == f"llmplatform.controls.{control.folder}.render"
            assert callable(importlib.import_module(control.render).objects)
        else:
            assert control.rendered_by, f"{control.key}: says neither what renders it nor who does"


def test_every_control_folder_belongs_to_a_registry_entry() -> None:
    folders = {p.name for p in CONTROLS_DIR.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= {c.folder for c in registry.CONTROLS}
    for control in registry.CONTROLS:
        if control.render is not None:
            assert control.folder in folders


def test_every_proof_the_registry_names_is_a_function_of_the_verify_tool() -> None:
    from llmp.verify import run

    named = [c.proof for c in registry.CONTROLS if c.proof]
    assert named and all(p.startswith("llmp.verify.") for p in named)
    assert all(callable(run.proof_function(p)) for p in named)
