"""The estimate equals numbers worked out by hand from a small config and a small fixed price table.

Table (tests/cost/conftest.py): cluster fee $0.10/h, free-tier credit $74.40 (zonal/Autopilot only),
730 h/month; e2-standard-2 $0.05/h (spot $0.02); g2-standard-8 host $0.30/h (spot $0.12); one
nvidia-l4 $0.50/h (spot $0.20); pd-balanced $0.10/GB-month; pd-ssd $0.20/GB-month (unconfirmed).
Config: one zone; 1 e2-standard-2 system node; a spot g2-standard-8 GPU pool, min 0, max 2;
one model with 0..2 replicas of 1 GPU; one 10 GB Postgres volume. Busy hours: 100.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from llmp.cost.assumptions import Assumptions
from llmp.cost.estimate import estimate, estimate_layout
from llmp.cost.layout import gke_layout
from llmp.cost.pricing import LocationKind

from .conftest import small_config

BUSY = Assumptions(busy_hours=100)


def lines_by_key(est):
    return {line.key: line for line in est.lines}


def test_every_line_matches_the_hand_computed_amounts(small_table):
    est = estimate("small", small_config(), small_table, BUSY)
    got = {k: (round(v.idle_usd, 2), round(v.busy_usd, 2)) for k, v in lines_by_key(est).items()}
    assert got == {
        # Regional cluster: no credit. 730 h x $0.10 = $73.00, idle and busy.
        "cluster-fee": (73.00, 73.00),
        # 1 node x $0.05/h x 730 h = $36.50, always on.
        "pool-system": (36.50, 36.50),
        # 1 boot disk x 100 GB x $0.10 = $10.00.
        "disks-system": (10.00, 10.00),
        # Spot node = host $0.12 + 1 x L4 $0.20 = $0.32/h. Idle: min 0 -> 0 nodes -> $0.
        # Busy: 2 replicas x 1 GPU on 1-GPU nodes = 2 nodes (GKE allows 2): 2 x $0.32 x 100 h = $64.00.
        "pool-gpu": (0.00, 64.00),
        # 2 disks x 200 GB x $0.20 = $80.00 per full month, for 100 of 730 h: 80 x 100 / 730 = $10.958... -> $10.96.
        "disks-gpu": (0.00, 10.96),
        # 1 x 10 GB x $0.10 = $1.00, all month.
        "volume-0": (1.00, 1.00),
    }
    # Idle: 73 + 36.50 + 10 + 1 = $120.50. Busy: 120.50 + 64 + 10.958904 = $195.458904.
    assert est.idle_total == pytest.approx(120.50)
    assert est.busy_total == pytest.approx(195.458904, abs=1e-6)
    # On demand the busy GPU hours would cost 2 x ($0.30 + $0.50) x 100 h = $160: spot saves 160 - 64 = $96.
    assert est.spot_savings_busy == pytest.approx(96.00)


def test_the_unconfirmed_entries_used_are_listed_with_their_reason(small_table):
    est = estimate("small", small_config(), small_table, BUSY)
    assert est.unconfirmed == (("us-central1.disks.pd-ssd", "made up too"),)


def test_a_zonal_cluster_gets_the_free_tier_credit(small_table):
    """730 h x $0.10 = $73.00 - $74.40 credit = -$1.40 -> $0.00: the credit covers one zonal cluster."""
    layout = replace(gke_layout(small_config()), location_kind=LocationKind.ZONAL)
    fee = lines_by_key(estimate_layout("small", layout, small_table, BUSY))["cluster-fee"]
    assert (fee.idle_usd, fee.busy_usd) == (0.0, 0.0)
    assert "gke.free_tier" in fee.prices


def test_the_credit_is_not_counted_twice_when_another_cluster_spends_it(small_table):
    layout = replace(gke_layout(small_config()), location_kind=LocationKind.ZONAL)
    fee = lines_by_key(estimate_layout("small", layout, small_table, Assumptions(free_tier_credit=False)))["cluster-fee"]
    assert fee.idle_usd == pytest.approx(73.00)


def test_min_nodes_above_zero_are_always_on_and_the_rest_run_in_busy_hours(small_table):
    """min 1, max 3, 3 replicas: 1 node all month, 2 more for 100 h.
    Idle: 1 x $0.32 x 730 = $233.60. Busy: 233.60 + 2 x $0.32 x 100 = $297.60."""
    cfg = small_config(gpu_pool={"min_nodes": 1, "max_nodes": 3}, models=[{
        "name": "m", "hf_id": "org/m", "revision": "0" * 40, "served_name": "m", "min_replicas": 0, "max_replicas": 3}])
    gpu = lines_by_key(estimate("small", cfg, small_table, BUSY))["pool-gpu"]
    assert (round(gpu.idle_usd, 2), round(gpu.busy_usd, 2)) == (233.60, 297.60)


def test_an_on_demand_pool_pays_list_price_and_saves_nothing(small_table):
    """Busy: 2 nodes x ($0.30 + $0.50) x 100 h = $160.00."""
    est = estimate("small", small_config(gpu_pool={"spot": False}), small_table, BUSY)
    assert lines_by_key(est)["pool-gpu"].busy_usd == pytest.approx(160.00)
    assert est.spot_savings_busy == pytest.approx(0.0)


def test_a_machine_type_missing_from_the_table_is_reported_not_guessed(small_table):
    est = estimate("small", small_config(substrate={"system_machine_type": "e2-standard-4"}), small_table, BUSY)
    assert est.missing == ("us-central1.machines.e2-standard-4",) and not est.complete
    assert lines_by_key(est)["pool-system"].idle_usd == 0.0


def test_busy_hours_beyond_the_month_are_refused(small_table):
    with pytest.raises(ValueError, match="0..730"):
        estimate("small", small_config(), small_table, Assumptions(busy_hours=731))


def test_a_dev_stack_over_the_idle_target_says_so(small_table):
    """Idle $120.50 > $30: over by $90.50."""
    est = estimate("small", small_config(), small_table, BUSY)
    assert any("exceeded by $90.50" in note for note in est.notes)


def test_a_zonal_spot_system_pool_with_a_small_disk_by_hand(small_table):
    """Zonal: $73.00 - $74.40 credit -> $0. One Spot e2-standard-2: 730 h x $0.02 = $14.60. A 30 GB
    pd-balanced boot disk: 30 x $0.10 = $3.00. The 10 GB volume: $1.00. Idle: $18.60."""
    cfg = small_config(substrate={"location": "zonal", "system_spot": True, "system_disk_size_gb": 30})
    got = {k: round(v.idle_usd, 2) for k, v in lines_by_key(estimate("small", cfg, small_table, BUSY)).items()}
    assert got == {"cluster-fee": 0.00, "pool-system": 14.60, "disks-system": 3.00, "pool-gpu": 0.00,
                   "disks-gpu": 0.00, "volume-0": 1.00}
