"""docs/cost.md quotes the current table, default busy hours and each stack's totals: they must match the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmp.cost.assumptions import DEFAULT_BUSY_HOURS
from llmp.cost.estimate import NOT_COUNTED
from llmp.cost.pricing import latest_pricing_file
from llmp.cost.stack import stack_estimate

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "cost.md").read_text()


def test_the_doc_names_the_table_in_use_and_the_default_busy_hours():
    assert f"llmp/cost/pricing/{latest_pricing_file().name}" in DOC
    assert f"default {DEFAULT_BUSY_HOURS:g} busy hours" in DOC and f"Default: {DEFAULT_BUSY_HOURS:g} h" in DOC


@pytest.mark.parametrize("stack", ["dev", "prod", "public"])
def test_the_doc_quotes_each_stacks_current_totals(stack):
    row = re.search(rf"^\| {stack} \| ([\d,.]+) \| ([\d,.]+) \|$", DOC, re.M)
    assert row, f"no totals row for {stack}"
    est = stack_estimate(ROOT, stack)
    assert (row.group(1), row.group(2)) == (f"{est.idle_total:,.2f}", f"{est.busy_total:,.2f}")


def test_the_dev_breakdown_in_the_doc_is_the_estimates():
    est = stack_estimate(ROOT, "dev")
    for line in est.lines:
        if line.idle_usd:
            assert f"${line.idle_usd:,.2f}" in DOC, f"{line.item}: ${line.idle_usd:,.2f} not in docs/cost.md"


def test_the_doc_lists_what_is_not_counted():
    flat = " ".join(DOC.split())
    for item in ("egress", "Cloud NAT", "load balancers' data processing", "Logging", "Artifact Registry", "GCS", "snapshots", "taxes"):
        assert item in flat and any(item.lower() in n.lower() for n in NOT_COUNTED), item


def test_the_doc_states_what_the_public_edge_adds_to_the_monthly_estimate():
    dev, public = stack_estimate(ROOT, "dev"), stack_estimate(ROOT, "public")
    added = public.idle_total - dev.idle_total
    assert round(public.busy_total - dev.busy_total, 2) == round(added, 2)
    assert f"**${added:,.2f} a\nmonth** more than dev" in DOC or f"**${added:,.2f} a month** more than dev" in DOC
    assert {line.key for line in public.lines} - {line.key for line in dev.lines} == {"edge-forwarding-rule",
                                                                                    "edge-cloud-armor"}
