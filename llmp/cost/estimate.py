"""The monthly cost estimate: a pure function of the stack config, a pricing table and assumptions.

Two totals: *idle* (no traffic all month: only what never scales to zero) and *busy* (GPU pools
at their busy node count for `busy_hours` of the month, idle the rest). See docs/cost.md for what
is counted and what is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from llmplatform.config import GkeSubstrate, PlatformConfig, VastSubstrate
from llmplatform.config.model import ExposureMode, TenantExposure
from llmplatform.controls.tiers import high_availability
from llmp.cost.assumptions import DEV_IDLE_TARGET_USD, Assumptions
from llmp.cost.layout import ClusterLayout, PoolLayout, gke_layout
from llmp.cost.pricing import PricingTable

NOT_COUNTED = (
    "network egress and inter-zone traffic",
    "Cloud NAT gateway and its data processing",
    "load balancers' data processing ($0.008/GiB each way) and Cloud Armor's per-request charge (the tenant "
    "edge's forwarding rule and Cloud Armor policy are counted)",
    "Cloud Logging / Monitoring / Managed Prometheus ingestion",
    "Artifact Registry storage and image pulls",
    "GCS (budget-database backups, model weights)",
    "persistent-disk snapshots",
    "sustained-use and committed-use discounts, taxes",
)
"""Costs the estimate leaves out (docs/cost.md says why)."""


@dataclass(frozen=True, kw_only=True)
class LineItem:
    key: str
    """Stable id (`cluster-fee`, `pool-gpu`, `disks-gpu`, `volume-0` ...)."""
    item: str
    detail: str
    idle_usd: float
    busy_usd: float
    on_demand_busy_usd: float
    """What `busy_usd` would be without Spot pricing (equal for on-demand lines)."""
    prices: tuple[str, ...] = ()
    """Pricing-table entries used (dotted keys)."""
    missing: tuple[str, ...] = ()
    """Entries the table lacks; the line then counts as $0 and the estimate is incomplete."""


@dataclass(frozen=True, kw_only=True)
class Estimate:
    stack: str
    substrate: str
    region: str | None
    assumptions: Assumptions
    hours_per_month: float
    table_name: str
    table_read_on: str
    lines: tuple[LineItem, ...]
    unconfirmed: tuple[tuple[str, str], ...]
    """(entry key, reason) for every unconfirmed price a line used."""
    notes: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    """Source key -> URL, for the sources the used entries name."""

    @property
    def idle_total(self) -> float:
        return sum(line.idle_usd for line in self.lines)

    @property
    def busy_total(self) -> float:
        return sum(line.busy_usd for line in self.lines)

    @property
    def spot_savings_busy(self) -> float:
        return sum(line.on_demand_busy_usd - line.busy_usd for line in self.lines)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(m for line in self.lines for m in line.missing)

    @property
    def complete(self) -> bool:
        return not self.missing


def _node_rate(table: PricingTable, region: str, pool: PoolLayout, *, spot: bool
               ) -> tuple[float | None, tuple[str, ...], tuple[str, ...]]:
    """USD per node-hour (the machine plus its GPUs), the entries used, and the entries missing."""
    prices = table.regions.get(region)
    parts = [(f"{region}.machines.{pool.machine_type}", prices.machines.get(pool.machine_type) if prices else None, 1)]
    if pool.gpu:
        parts.append((f"{region}.gpus.{pool.gpu}", prices.gpus.get(pool.gpu) if prices else None, pool.gpus_per_node))
    used = tuple(key for key, price, _ in parts if price is not None)
    missing = tuple(key for key, price, _ in parts if price is None or (spot and price.spot is None))
    if missing:
        return None, used, missing
    return sum(n * (p.spot if spot else p.on_demand) for _, p, n in parts), used, ()  # type: ignore[misc,union-attr]


def _disk_rate(table: PricingTable, region: str, disk_type: str) -> tuple[float, str, bool]:
    """USD per GB-month of `disk_type`, its entry key, and whether the table lacks it (rate 0 then)."""
    key = f"{region}.disks.{disk_type}"
    prices = table.regions.get(region)
    disk = prices.disks.get(disk_type) if prices else None
    return (disk.usd_per_gb_month, key, False) if disk else (0.0, key, True)


def _checked_hours(table: PricingTable, a: Assumptions) -> float:
    hours = table.hours_per_month
    if not 0 <= a.busy_hours <= hours:
        raise ValueError(f"busy hours must be within 0..{hours:g} (the hours in a month), got {a.busy_hours:g}")
    return hours


def _pool_lines(table: PricingTable, region: str, pool: PoolLayout, a: Assumptions) -> list[LineItem]:
    hours = table.hours_per_month
    extra = pool.busy_nodes - pool.always_on_nodes
    price, used, missing = _node_rate(table, region, pool, spot=pool.spot)
    od_price, _, _ = _node_rate(table, region, pool, spot=False)
    rate = price or 0.0
    od_rate = od_price if price is not None and od_price is not None else rate
    shape = pool.machine_type + (f" + {pool.gpus_per_node} x {pool.gpu}" if pool.gpu else "")
    when = (f"{pool.always_on_nodes} always on" + (f", +{extra} during busy hours" if extra else ""))
    node_line = LineItem(
        key=f"pool-{pool.role}",
        item=f"{pool.role} pool: {shape}, {'spot' if pool.spot else 'on-demand'}",
        detail=f"{when}; ${rate:.5f}/node-h; {pool.basis}",
        idle_usd=pool.always_on_nodes * rate * hours,
        busy_usd=(pool.always_on_nodes * hours + extra * a.busy_hours) * rate,
        on_demand_busy_usd=(pool.always_on_nodes * hours + extra * a.busy_hours) * od_rate,
        prices=tuple(used), missing=tuple(missing),
    )
    gb_rate, disk_key, disk_missing = _disk_rate(table, region, pool.disk_type)
    # A node's boot disk exists while the node does: extra nodes' disks only during busy hours.
    idle_disk = pool.always_on_nodes * pool.disk_size_gb * gb_rate
    busy_disk = idle_disk + extra * pool.disk_size_gb * gb_rate * a.busy_hours / hours
    disk_line = LineItem(
        key=f"disks-{pool.role}", item=f"{pool.role} pool boot disks: {pool.disk_size_gb} GB {pool.disk_type} each",
        detail=f"one per node; ${gb_rate:.3f}/GB-month",
        idle_usd=idle_disk, busy_usd=busy_disk, on_demand_busy_usd=busy_disk,
        prices=() if disk_missing else (disk_key,), missing=(disk_key,) if disk_missing else (),
    )
    return [node_line, disk_line]


def _fee_line(table: PricingTable, layout: ClusterLayout, a: Assumptions) -> LineItem:
    """The flat cluster fee, less the free-tier credit where GKE applies it (zonal/Autopilot only)."""
    fee, free = table.gke.cluster_fee, table.gke.free_tier
    gross = fee.usd_per_hour * table.hours_per_month
    detail = f"{table.hours_per_month:g} h x ${fee.usd_per_hour:.2f} = ${gross:.2f}"
    credit = 0.0
    if layout.location_kind not in free.applies_to:
        detail += (f"; no free-tier credit: it applies to {' and '.join(free.applies_to)} clusters only, "
                   f"this one is {layout.location_kind}")
    elif not a.free_tier_credit:
        detail += "; free-tier credit assumed spent by another cluster on the billing account"
    else:
        credit = free.monthly_credit_usd
        detail += f" - ${credit:.2f} free-tier credit ({layout.location_kind} cluster; one credit per billing account)"
    net = max(0.0, gross - credit)
    return LineItem(key="cluster-fee", item="GKE cluster management fee", detail=detail,
                    idle_usd=net, busy_usd=net, on_demand_busy_usd=net,
                    prices=("gke.cluster_fee",) + (("gke.free_tier",) if credit else ()))


def edge_lines(table: PricingTable, exposure: TenantExposure) -> list[LineItem]:
    """The tenant edge (`tenant_gateway.exposure`): `internal` is one internal passthrough load balancer (one
    forwarding rule); `public` one global external Application Load Balancer (one HTTPS forwarding rule) with a
    Cloud Armor policy (its rules: the client allow-lists and the default deny). `cluster` costs nothing. The
    managed certificate is within Certificate Manager's free allowance and not counted."""
    if exposure.mode == ExposureMode.CLUSTER:
        return []
    lb = table.load_balancing
    hours = table.hours_per_month
    if lb is None:
        key = "load_balancing.forwarding_rule"
        return [LineItem(key="edge-forwarding-rule", item="tenant edge load balancer", detail="not priced",
                         idle_usd=0.0, busy_usd=0.0, on_demand_busy_usd=0.0, missing=(key,))]
    rule = lb.forwarding_rule.usd_per_hour * hours
    kind = "internal passthrough Network Load Balancer" if exposure.mode == ExposureMode.INTERNAL else \
        "global external Application Load Balancer (HTTPS)"
    out = [LineItem(key="edge-forwarding-rule", item=f"tenant edge: {kind}, 1 forwarding rule",
                    detail=f"{hours:g} h x ${lb.forwarding_rule.usd_per_hour:.3f}; data processed not counted",
                    idle_usd=rule, busy_usd=rule, on_demand_busy_usd=rule,
                    prices=("load_balancing.forwarding_rule",))]
    if exposure.mode == ExposureMode.PUBLIC:
        rules = len(exposure.client_cidrs) // 10 + bool(len(exposure.client_cidrs) % 10) + 1
        armor = lb.armor_policy.usd_per_month + rules * lb.armor_rule.usd_per_month
        out.append(LineItem(key="edge-cloud-armor", item=f"tenant edge: Cloud Armor policy, {rules} rules",
                            detail=f"${lb.armor_policy.usd_per_month:.2f}/policy + {rules} x "
                                   f"${lb.armor_rule.usd_per_month:.2f}/rule; requests not counted",
                            idle_usd=armor, busy_usd=armor, on_demand_busy_usd=armor,
                            prices=("load_balancing.armor_policy", "load_balancing.armor_rule")))
    return out


def estimate_layout(stack: str, layout: ClusterLayout, table: PricingTable, a: Assumptions = Assumptions(),
                    exposure: TenantExposure | None = None) -> Estimate:
    """Itemised monthly cost of a GKE layout (see `gke_layout`), with the tenant edge of `exposure`."""
    hours = _checked_hours(table, a)
    lines = [_fee_line(table, layout, a)]
    for pool in layout.pools:
        lines += _pool_lines(table, layout.region, pool, a)
    for i, vol in enumerate(layout.volumes):
        gb_rate, key, missing = _disk_rate(table, layout.region, vol.disk_type)
        usd = vol.count * vol.size_gb * gb_rate
        lines.append(LineItem(key=f"volume-{i}", item=f"{vol.name}: {vol.count} x {vol.size_gb} GB {vol.disk_type}",
                              detail=f"persistent volumes exist all month; ${gb_rate:.3f}/GB-month",
                              idle_usd=usd, busy_usd=usd, on_demand_busy_usd=usd,
                              prices=() if missing else (key,), missing=(key,) if missing else ()))
    lines += edge_lines(table, exposure or TenantExposure())
    used = sorted({k for line in lines for k in line.prices})
    entries = dict(table.entries())
    unconfirmed = tuple((k, entries[k].reason or "") for k in used if not entries[k].confirmed)
    return Estimate(
        stack=stack, substrate="gke", region=layout.region, assumptions=a, hours_per_month=hours,
        table_name=table.name, table_read_on=table.read_on, lines=tuple(lines), unconfirmed=unconfirmed,
        sources={entries[k].source: table.sources[entries[k].source].url for k in used},
    )


def _vast_estimate(stack: str, sub: VastSubstrate, table: PricingTable, a: Assumptions) -> Estimate:
    """A rented Vast.ai machine bills per hour while it exists: the config's price ceiling, all month."""
    usd = sub.max_dph_usd * _checked_hours(table, a)
    line = LineItem(key="vast-machine", item=f"Vast.ai machine: {sub.num_gpus} x {sub.gpu_name}",
                    detail=f"ceiling max_dph_usd ${sub.max_dph_usd:.2f}/h x {table.hours_per_month:g} h; "
                           "the accepted offer is usually cheaper; storage and bandwidth not counted",
                    idle_usd=usd, busy_usd=usd, on_demand_busy_usd=usd)
    return Estimate(stack=stack, substrate="vast", region=None, assumptions=a, hours_per_month=table.hours_per_month,
                    table_name=table.name, table_read_on=table.read_on, lines=(line,), unconfirmed=(),
                    notes=("Vast.ai prices come from the stack config's ceiling, not from the pricing table",))


def estimate(stack: str, cfg: PlatformConfig, table: PricingTable, a: Assumptions = Assumptions()) -> Estimate:
    """Itemised monthly estimate of `cfg` under `table` and assumptions `a`."""
    est = (estimate_layout(stack, gke_layout(cfg), table, a, cfg.tenant_gateway.exposure)
           if isinstance(cfg.substrate, GkeSubstrate)
           else _vast_estimate(stack, cfg.substrate, table, a))
    # The target is for the long-lived dev stack; a Vast rig is rented for one validation run, then destroyed.
    if not high_availability(cfg.profile) and est.substrate == "gke" and est.idle_total > DEV_IDLE_TARGET_USD:
        est = replace(est, notes=(*est.notes, f"dev idle target ${DEV_IDLE_TARGET_USD:.0f}/mo exceeded by "
                                              f"${est.idle_total - DEV_IDLE_TARGET_USD:,.2f} (docs/cost.md)"))
    return est
