"""The pricing table: cloud list prices with their date and source, one YAML file per read.

Tables live in `llmp/cost/pricing/<cloud>-<YYYY-MM-DD>.yaml`; the newest file is the
default. Every price names a source (URL + date read) and says whether it was confirmed there;
unconfirmed entries carry the reason and the estimate lists them.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

PRICING_DIR = Path(__file__).parent / "pricing"


class LocationKind(StrEnum):
    """Where a GKE control plane lives; it decides whether the free-tier credit can apply."""

    ZONAL = "zonal"
    REGIONAL = "regional"
    AUTOPILOT = "autopilot"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    url: str
    read_on: str
    what: str


class _Entry(_Frozen):
    source: str
    """Key into `PricingTable.sources`."""
    confirmed: bool
    """True: read from `source` on its date (verbatim, or by the arithmetic in `note`)."""
    reason: str | None = None
    """Why the value could not be confirmed (required when `confirmed` is false)."""
    note: str | None = None

    @model_validator(mode="after")
    def _reason_when_unconfirmed(self) -> _Entry:
        if not self.confirmed and not self.reason:
            raise ValueError("an unconfirmed price needs a `reason`")
        return self


class HourlyPrice(_Entry):
    """A machine type (vCPU + memory) or one GPU, USD per hour."""

    on_demand: Annotated[float, Field(ge=0)]
    spot: Annotated[float, Field(ge=0)] | None = None
    """None: no Spot price known; a Spot pool using it is reported as unpriced."""


class DiskPrice(_Entry):
    usd_per_gb_month: Annotated[float, Field(ge=0)]


class ClusterFee(_Entry):
    usd_per_hour: Annotated[float, Field(ge=0)]


class FreeTier(_Entry):
    monthly_credit_usd: Annotated[float, Field(ge=0)]
    applies_to: tuple[LocationKind, ...]
    """Cluster kinds the credit can be spent on (GKE: zonal and Autopilot, never regional)."""


class MonthlyPrice(_Entry):
    usd_per_month: Annotated[float, Field(ge=0)]


class LoadBalancingPrices(_Frozen):
    """What the tenant edge adds (`tenant_gateway.exposure`): its load balancer's forwarding rule and, on a
    public edge, the Cloud Armor policy with its rules. Data processed per GiB is traffic: not counted."""

    forwarding_rule: ClusterFee
    """One forwarding rule, USD per hour (the first five of a project; more are cheaper each)."""
    armor_policy: MonthlyPrice
    armor_rule: MonthlyPrice


class GkePrices(_Frozen):
    cluster_fee: ClusterFee
    free_tier: FreeTier


class RegionPrices(_Frozen):
    machines: dict[str, HourlyPrice] = {}
    gpus: dict[str, HourlyPrice] = {}
    """Keyed by GKE accelerator name (`nvidia-l4`); priced per GPU, added to the host machine's price."""
    disks: dict[str, DiskPrice] = {}
    """Keyed by disk type (`pd-balanced`, `pd-ssd`, `pd-standard`)."""


class PricingTable(_Frozen):
    read_on: str
    currency: Literal["USD"]
    hours_per_month: Annotated[float, Field(gt=0)]
    hours_per_month_note: str | None = None
    sources: dict[str, Source]
    gke: GkePrices
    regions: dict[str, RegionPrices]
    load_balancing: LoadBalancingPrices | None = None
    """None: a table read before the tenant edge was priced; an edge is then reported as unpriced."""
    name: str = "inline"
    """File name the table was loaded from (set by `load_pricing`)."""

    @model_validator(mode="after")
    def _sources_exist(self) -> PricingTable:
        bad = sorted(f"{key} (source {entry.source!r})" for key, entry in self.entries() if entry.source not in self.sources)
        if bad:
            raise ValueError(f"entries name sources missing from `sources` ({', '.join(self.sources)}): {', '.join(bad)}")
        return self

    def entries(self) -> list[tuple[str, _Entry]]:
        """Every price entry with its dotted key (`us-central1.machines.e2-standard-2`)."""
        out: list[tuple[str, _Entry]] = [("gke.cluster_fee", self.gke.cluster_fee), ("gke.free_tier", self.gke.free_tier)]
        if self.load_balancing is not None:
            lb = self.load_balancing
            out += [("load_balancing.forwarding_rule", lb.forwarding_rule),
                    ("load_balancing.armor_policy", lb.armor_policy), ("load_balancing.armor_rule", lb.armor_rule)]
        for region, prices in self.regions.items():
            for kind in ("machines", "gpus", "disks"):
                out += [(f"{region}.{kind}.{name}", e) for name, e in getattr(prices, kind).items()]
        return out

    def entry(self, key: str) -> _Entry:
        return dict(self.entries())[key]


def latest_pricing_file(cloud: str = "gcp", directory: Path = PRICING_DIR) -> Path:
    """The newest `<cloud>-<YYYY-MM-DD>.yaml` (ISO dates sort as text)."""
    files = sorted(directory.glob(f"{cloud}-????-??-??.yaml"))
    if not files:
        raise FileNotFoundError(f"no {cloud}-<date>.yaml pricing table in {directory}")
    return files[-1]


def load_pricing(path: Path | None = None) -> PricingTable:
    """Load and validate a pricing table; default: the newest GCP table in the repo."""
    path = path or latest_pricing_file()
    raw = yaml.safe_load(path.read_text())
    return PricingTable.model_validate({**raw, "name": path.name})
