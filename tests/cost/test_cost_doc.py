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


@pytest.mark.parametrize("stack", ["dev", "prod"])
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
    for item in ("egress", "Cloud NAT", "load balancers", "Logging", "Artifact Registry", "GCS", "snapshots", "taxes"):
        assert item in flat and any(item.lower() in n.lower() for n in NOT_COUNTED), item
