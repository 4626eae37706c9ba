"""The scaling benchmark's generated stacks pass the real config validation at every benchmark size."""

from __future__ import annotations

import pytest

from llmplatform.config.errors import ConfigError
from llmplatform.config.model import TrustTier, load_platform_config
from tests.bench.benchmods import load_bench_module

stackgen = load_bench_module("stackgen")


@pytest.mark.parametrize("tier", [None, "untrusted"])
@pytest.mark.parametrize(("tenants", "models"), [(1, 1), (10, 5), (50, 20), (200, 1), (200, 20)])
def test_generated_prod_configs_are_accepted_with_the_asked_for_sizes(tenants: int, models: int,
                                                                      tier: str | None) -> None:
    cfg = load_platform_config(stackgen.scaled_config(stackgen.base_config("prod"), tenants=tenants,
                                                      models=models, trust_tier=tier))
    assert (len(cfg.tenants), len(cfg.models)) == (tenants, models)
    assert cfg.trust_tier == (TrustTier(tier) if tier else TrustTier.MULTI_TEAM)
    assert cfg.profile.value == "prod"


def test_sizes_beyond_the_largest_pool_are_refused_before_planning() -> None:
    with pytest.raises(ValueError, match="nodes"):
        stackgen.scaled_config(stackgen.base_config("prod"), tenants=1000, models=1)


def test_the_rules_still_bite_when_the_pool_is_too_small() -> None:
    raw = stackgen.scaled_config(stackgen.base_config("prod"), tenants=200, models=1)
    raw["gpu_pool"] = {**raw["gpu_pool"], "max_nodes": 10}
    with pytest.raises(ConfigError, match="gpu_quota"):
        load_platform_config(raw)


def test_the_temporary_project_holds_the_generated_stack_and_not_the_repo_root(tmp_path_factory) -> None:
    import shutil

    cfg = stackgen.scaled_config(stackgen.base_config("prod"), tenants=2, models=1)
    project = stackgen.write_project(cfg, "bench")
    try:
        assert sorted(p.name for p in project.iterdir()) == ["Pulumi.bench.yaml", "Pulumi.yaml", "__main__.py"]
        assert not (stackgen.ROOT / "Pulumi.bench.yaml").exists()
        assert project.resolve() != stackgen.ROOT.resolve()
    finally:
        shutil.rmtree(project)
