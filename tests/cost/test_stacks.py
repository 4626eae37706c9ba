"""The real stacks under the repo's pricing table: the dev idle target and the GPU node counts they pay for."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmp.cost.assumptions import DEV_IDLE_TARGET_USD, Assumptions
from llmp.cost.estimate import estimate
from llmp.cost.layout import gke_layout
from llmp.cost.pricing import LocationKind, load_pricing
from llmp.cost.stack import stack_platform_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_dev_stack_idles_within_its_target():
    est = estimate("dev", stack_platform_config(ROOT, "dev"), load_pricing())
    assert est.complete and est.idle_total <= DEV_IDLE_TARGET_USD
    assert not any("idle target" in note for note in est.notes)


def test_the_dev_idle_total_is_the_zonal_fee_one_spot_system_node_its_disk_and_the_volume():
    """Zonal cluster: $73.00 fee - $74.40 credit -> $0; one Spot system node all month; its boot disk and
    the Postgres volume at the pd-balanced rate; the GPU pool at zero."""
    cfg = stack_platform_config(ROOT, "dev")
    sub, table = cfg.substrate, load_pricing()
    prices = table.regions[sub.region]
    by_hand = (max(0.0, 730 * table.gke.cluster_fee.usd_per_hour - table.gke.free_tier.monthly_credit_usd)
               + 730 * prices.machines[sub.system_machine_type].spot
               + (sub.system_disk_size_gb + cfg.tenant_gateway.postgres_storage_gb)
               * prices.disks["pd-balanced"].usd_per_gb_month)
    est = estimate("dev", cfg, table, Assumptions())
    assert est.idle_total == pytest.approx(by_hand)
    assert gke_layout(cfg).location_kind == LocationKind.ZONAL


def test_dev_gpus_cost_nothing_when_idle():
    est = estimate("dev", stack_platform_config(ROOT, "dev"), load_pricing(), Assumptions(busy_hours=0))
    gpu_lines = [line for line in est.lines if line.key.endswith("-gpu")]
    assert gpu_lines and all(line.idle_usd == line.busy_usd == 0 for line in gpu_lines)


def test_prod_pays_for_the_gpu_nodes_its_config_states_not_one_per_zone():
    """Prod's min_nodes 2 spread over 3 zones: GKE's total limits keep 2 g2-standard-24 all month (per-zone
    limits rounded up kept 3), and busy hours stop at the configured total, not at a per-zone multiple."""
    cfg = stack_platform_config(ROOT, "prod")
    pool, zones = cfg.gpu_pool, len(cfg.substrate.zones)
    assert zones == 3 and pool.min_nodes % zones, "prod must stay a case the per-zone rounding would inflate"
    gpu = gke_layout(cfg).pools[1]
    assert (gpu.min_nodes, gpu.max_nodes) == (pool.min_nodes, pool.max_nodes)
    min_replica_gpus = sum(m.min_replicas * m.gpus_per_replica for m in cfg.models)
    assert min_replica_gpus <= pool.min_nodes * pool.gpus_per_node, "the models' minimum fits the configured nodes"
    assert gpu.always_on_nodes == pool.min_nodes
    assert gpu.always_on_nodes <= gpu.busy_nodes <= pool.max_nodes
