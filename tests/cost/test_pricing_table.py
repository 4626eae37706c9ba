"""The repo's pricing table: dated, sourced, honest about what is unconfirmed, and covering our stacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from llmplatform.config import GkeSubstrate
from llmp.cost.estimate import estimate
from llmp.cost.pricing import PricingTable, latest_pricing_file, load_pricing
from llmp.cost.stack import stack_platform_config

from .conftest import SMALL_TABLE_RAW

ROOT = Path(__file__).resolve().parents[2]
GKE_STACKS = [p.name.split(".")[1] for p in sorted(ROOT.glob("Pulumi.*.yaml"))
              if isinstance(stack_platform_config(ROOT, p.name.split(".")[1]).substrate, GkeSubstrate)]


def test_the_table_file_is_named_after_the_date_it_was_read():
    path = latest_pricing_file()
    table = load_pricing(path)
    assert re.fullmatch(r"gcp-(\d{4}-\d{2}-\d{2})\.yaml", path.name).group(1) == table.read_on
    assert f"Read on: {table.read_on}" in path.read_text().split("\n\n")[0], "the header states the date"


def test_every_source_has_a_url_and_a_read_date_and_the_header_names_every_url():
    path = latest_pricing_file()
    table = load_pricing(path)
    header = path.read_text().split("\nread_on:")[0]
    for key, source in table.sources.items():
        assert source.url.startswith("https://") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", source.read_on), key
    for key in {entry.source for _, entry in table.entries() if entry.confirmed}:
        assert table.sources[key].url in header, f"source {key} of confirmed prices is missing from the header"


def test_unconfirmed_entries_say_why():
    table = load_pricing()
    unconfirmed = [(key, e.reason) for key, e in table.entries() if not e.confirmed]
    assert unconfirmed and all(reason for _, reason in unconfirmed)


def test_an_unconfirmed_price_without_a_reason_is_rejected():
    raw = {**SMALL_TABLE_RAW, "gke": {**SMALL_TABLE_RAW["gke"],
                                      "cluster_fee": {"usd_per_hour": 0.1, "source": "test", "confirmed": False}}}
    with pytest.raises(ValidationError, match="reason"):
        PricingTable.model_validate(raw)


def test_a_price_naming_an_unknown_source_is_rejected():
    raw = {**SMALL_TABLE_RAW, "gke": {**SMALL_TABLE_RAW["gke"],
                                      "cluster_fee": {"usd_per_hour": 0.1, "source": "nowhere", "confirmed": True}}}
    with pytest.raises(ValidationError, match="nowhere"):
        PricingTable.model_validate(raw)


@pytest.mark.parametrize("stack", GKE_STACKS)
def test_the_table_prices_every_machine_gpu_and_disk_our_stacks_use(stack):
    est = estimate(stack, stack_platform_config(ROOT, stack), load_pricing())
    assert est.complete, f"{stack}: no price for {est.missing}"


def test_the_free_tier_credit_covers_one_zonal_cluster_month():
    """$74.40 >= 730 h x $0.10 = $73.00 (the credit is sized for a 31-day month: 744 h x $0.10)."""
    table = load_pricing()
    assert table.gke.free_tier.monthly_credit_usd >= table.gke.cluster_fee.usd_per_hour * table.hours_per_month
    assert "regional" not in table.gke.free_tier.applies_to
