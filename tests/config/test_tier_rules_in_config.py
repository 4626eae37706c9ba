"""The stack config is judged by the control plan's own rules: a tier the config cannot have is a config
error (key path, value, what is allowed, the fix), reported with the other config problems, exit 2,
before `llmp plan` registers any component."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from llmp.cli import app
from llmplatform.config import ConfigError, load_platform_config
from llmplatform.config.rules import control_plan_for

ROOT = Path(__file__).resolve().parents[2]


def stack_raw(stack: str) -> dict:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items()}


def test_a_dev_stack_on_the_untrusted_tier_with_a_shared_prefix_cache_is_a_config_error():
    raw = {**stack_raw("dev"), "trust_tier": "untrusted", "governance": {"prefix_cache": "shared"}}
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    (problem,) = [p for p in info.value.problems if p.path == "governance.prefix_cache"]
    assert problem.value == "shared" and "untrusted tenants must not share a prefix cache" in problem.reason
    assert problem.fix.startswith("tenant-salted")
    assert ("governance.prefix_cache: 'shared' is not allowed; untrusted tenants must not share a prefix cache"
            in str(info.value))


def test_tier_problems_come_in_one_report_with_the_schema_free_config_problems():
    raw = {**stack_raw("prod"), "trust_tier": "trusted"}
    raw["tenants"] = [{**raw["tenants"][0], "allowed_models": ["gpt-5"]}, *raw["tenants"][1:]]
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    paths = {p.path for p in info.value.problems}
    assert {"trust_tier", "tenants[0].allowed_models[0]"} <= paths
    assert "trust_tier: 'trusted' is not allowed; prod must be at least multi-team" in str(info.value)


def test_a_time_sliced_pool_on_the_untrusted_tier_is_reported_at_the_pool_key():
    raw = {**stack_raw("dev"), "trust_tier": "untrusted"}
    raw["gpu_pool"] = {**raw["gpu_pool"], "sharing": "time-sharing", "max_shared_clients_per_gpu": 2}
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    (problem,) = [p for p in info.value.problems if p.path == "gpu_pool.sharing"]
    assert problem.value == "time-sharing" and "share memory between tenants" in problem.reason


def test_the_loaded_config_plans_to_what_the_stack_records():
    assert control_plan_for(load_platform_config(stack_raw("prod"))).fail_closed
    assert not control_plan_for(load_platform_config(stack_raw("dev"))).fail_closed


def test_llmp_plan_refuses_the_tier_as_a_config_error_before_any_component(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    doc["config"]["llm-platform:trust_tier"] = "untrusted"
    doc["config"]["llm-platform:governance"] = {"prefix_cache": "shared"}
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    out = tmp_path / "build"
    result = CliRunner().invoke(app, ["plan", "dev", "-C", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr
    assert "governance.prefix_cache: 'shared' is not allowed" in result.stderr
    assert not (out / "plan.json").exists(), "nothing was planned"
