"""Trust tiers: the control plan per tier and profile, its refusals, and the docs table that mirrors it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplatform.config.model import Governance, PrefixCacheMode, Profile, TrustTier
from llmplatform.controls.tiers import (
    TITLES,
    ControlPlanError,
    ControlState,
    GpuIsolation,
    plan_controls,
    render_tier_table,
    tier_table,
)
from substrates.capabilities import SubstrateCapabilities

DOC = Path(__file__).resolve().parents[2] / "docs" / "trust-tiers.md"
GKE = SubstrateCapabilities(display_name="GKE", gpus_per_node=1)
E, A, D = ControlState.ENFORCED, ControlState.AUDIT, ControlState.DORMANT


def plan(tier: str, profile: str = "dev", caps: SubstrateCapabilities = GKE, **governance):
    return plan_controls(trust_tier=TrustTier(tier), profile=Profile(profile), capabilities=caps,
                         governance=Governance(**governance))


def states(p) -> dict[str, ControlState]:
    return {d.key: d.state for d in p.decisions}


def test_trusted_dev_leaves_sr1_dormant_audits_sr2_and_shares_the_prefix_cache():
    p = plan("trusted")
    assert states(p) == {"sr1-network": D, "sr1-identity": D, "sr2-gpu-admission": A, "sr3-fail-closed": D,
                         "prefix-cache": D, "tenant-namespaces": D, "gpu-isolation": D}
    assert p.prefix_cache_mode == PrefixCacheMode.SHARED and not p.sr1_enforced and not p.sr2_enforce


def test_multi_team_prod_enforces_sr1_sr2_sr3_and_salts_the_prefix_cache():
    p = plan("multi-team", "prod")
    assert states(p) == {"sr1-network": E, "sr1-identity": E, "sr2-gpu-admission": E, "sr3-fail-closed": E,
                         "prefix-cache": E, "tenant-namespaces": D, "gpu-isolation": D}
    assert p.prefix_cache_mode == PrefixCacheMode.TENANT_SALTED
    assert (p.fail_closed, p.min_postgres_instances, p.redis_required_above_replicas) == (True, 3, 1)


def test_untrusted_adds_tenant_namespaces_and_gpu_isolation_with_mig_where_the_pool_is_partitioned():
    assert plan("untrusted").gpu_isolation_mode == GpuIsolation.WHOLE_GPU
    mig = plan("untrusted", caps=SubstrateCapabilities(display_name="GKE", gpus_per_node=1, mig_available=True))
    assert mig.gpu_isolation_mode == GpuIsolation.MIG
    assert states(mig)["tenant-namespaces"] == states(mig)["gpu-isolation"] == E


def test_the_profile_alone_decides_sr3():
    for tier in ("multi-team", "untrusted"):
        assert plan(tier, "prod").fail_closed and not plan(tier, "dev").fail_closed
        assert plan(tier, "dev").min_postgres_instances == 1


def test_prod_must_be_at_least_multi_team():
    with pytest.raises(ControlPlanError, match="prod must be at least multi-team"):
        plan("trusted", "prod")


def test_sr1_on_a_substrate_without_network_policy_enforcement_is_refused_as_a_paper_control():
    caps = SubstrateCapabilities(display_name="k3s without a policy controller", gpus_per_node=1,
                                 network_policy_enforced=False)
    with pytest.raises(ControlPlanError, match="paper control"):
        plan("multi-team", caps=caps)
    assert plan("trusted", caps=caps).sr1_network.state == D  # dormant SR1 claims nothing


def test_untrusted_refuses_a_shared_prefix_cache_and_time_sliced_gpus_in_one_report():
    caps = SubstrateCapabilities(display_name="GKE", gpus_per_node=1, gpu_time_slicing_replicas=4)
    with pytest.raises(ControlPlanError) as exc:
        plan("untrusted", caps=caps, prefix_cache=PrefixCacheMode.SHARED)
    assert len(exc.value.problems) == 2
    assert any(p.render().startswith("governance.prefix_cache") for p in exc.value.problems)
    assert any(p.render().startswith("capabilities.gpu_time_slicing_replicas") for p in exc.value.problems)


def test_a_shared_prefix_cache_on_multi_team_is_allowed_but_warned_and_recorded_dormant():
    p = plan("multi-team", prefix_cache=PrefixCacheMode.SHARED)
    assert p.prefix_cache.state == D and p.warnings


def test_caching_off_counts_as_enforced_isolation():
    assert plan("untrusted", prefix_cache=PrefixCacheMode.OFF).prefix_cache.state == E


@given(tier=st.sampled_from(list(TrustTier)), profile=st.sampled_from(list(Profile)),
       mig=st.booleans(), kyverno=st.booleans())
def test_every_allowed_plan_lists_every_control_once_and_round_trips_as_json(tier, profile, mig, kyverno):
    caps = SubstrateCapabilities(display_name="GKE", gpus_per_node=1, mig_available=mig)
    try:
        p = plan_controls(trust_tier=tier, profile=profile, capabilities=caps, governance=Governance(kyverno=kyverno))
    except ControlPlanError:
        assert tier == TrustTier.TRUSTED and profile == Profile.PROD
        return
    assert [d.key for d in p.decisions] == list(TITLES)
    assert p.sr2_gpu_admission.state != D, "SR2 is never dormant"
    assert (p.sr1_network.state == E) == (tier.rank >= TrustTier.MULTI_TEAM.rank)
    doc = json.loads(p.to_json_text())
    assert [c["state"] for c in doc["controls"]] == [d.state.value for d in p.decisions]
    assert len(p.log_lines()) == len(p.dormant)
    assert all(line.split(" dormant on tier ")[0] in TITLES.values() for line in p.log_lines())


def test_the_table_has_one_row_per_control_plus_the_allowed_profiles():
    rows = tier_table()
    assert [r[0] for r in rows] == ["Profiles allowed", *TITLES.values()]
    assert rows[0] == ("Profiles allowed", "dev", "dev, prod", "dev, prod")


def test_docs_trust_tiers_carries_the_table_exactly_as_the_code_renders_it():
    text = DOC.read_text()
    match = re.search(r"<!-- tier-table:start -->\n(.*?)<!-- tier-table:end -->", text, re.S)
    assert match, "docs/trust-tiers.md must keep the table between the tier-table markers"
    assert match.group(1) == render_tier_table(), (
        "docs/trust-tiers.md drifted from tiers.render_tier_table(); paste its output between the markers")
    assert "prod must be at least multi-team" in text.lower()
