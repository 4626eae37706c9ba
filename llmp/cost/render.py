"""Showing an estimate: a rich table with notes for `llmp plan`, one line in quiet mode, and cost.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from llmp.cost.estimate import NOT_COUNTED, Estimate


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def cost_table(est: Estimate) -> Table:
    busy = f"Busy $/mo ({est.assumptions.busy_hours:g} h)"
    where = f"{est.substrate}" + (f", {est.region}" if est.region else "")
    table = Table(title=f"Estimated monthly cost: {est.stack} ({where}; prices {est.table_name}, read {est.table_read_on})",
                  title_justify="left", show_footer=True)
    table.add_column("Item", footer="Total" + ("" if est.complete else " (incomplete: unpriced items count $0)"))
    table.add_column("How", overflow="fold", ratio=1)
    table.add_column("Idle $/mo", justify="right", footer=_usd(est.idle_total))
    table.add_column(busy, justify="right", footer=_usd(est.busy_total))
    for line in est.lines:
        flag = " [red](no price)[/]" if line.missing else ""
        table.add_row(line.item + flag, line.detail, _usd(line.idle_usd), _usd(line.busy_usd))
    return table


def cost_notes(est: Estimate) -> list[str]:
    """Lines printed under the table: assumptions, Spot savings, unconfirmed and missing prices, omissions."""
    notes = [f"idle: no traffic all month (GPU pools at their always-on size); busy: GPU pools at their busy size "
             f"for {est.assumptions.busy_hours:g} of {est.hours_per_month:g} h (--hours-busy)"]
    if est.spot_savings_busy > 0.005:
        notes.append(f"spot pricing saves {_usd(est.spot_savings_busy)}/mo at busy against on-demand")
    notes += [f"[yellow]unconfirmed price[/] {key}: {reason}" for key, reason in est.unconfirmed]
    notes += [f"[red]no price in {est.table_name}[/] for {key}" for key in est.missing]
    notes += list(est.notes)
    notes.append("not counted: " + "; ".join(NOT_COUNTED) + " (docs/cost.md)")
    return notes


def totals_text(est: Estimate) -> str:
    """The totals for `llmp plan`'s one summary line: `idle $27.43/mo, busy $95.57/mo`, plus unpriced items."""
    missing = f", [red]{len(est.missing)} unpriced item(s)[/]" if est.missing else ""
    return f"idle {_usd(est.idle_total)}/mo, busy {_usd(est.busy_total)}/mo{missing}"


def summary_line(est: Estimate) -> str:
    unconfirmed = f"; {len(est.unconfirmed)} unconfirmed price(s)" if est.unconfirmed else ""
    missing = f"; [red]{len(est.missing)} unpriced item(s)[/]" if est.missing else ""
    return (f"cost: {est.stack} idle {_usd(est.idle_total)}/mo, busy {_usd(est.busy_total)}/mo at "
            f"{est.assumptions.busy_hours:g} busy h (prices read {est.table_read_on}{unconfirmed}{missing})")


def print_estimate(est: Estimate, console: Console, *, quiet: bool) -> None:
    """Quiet: the summary line only. Otherwise the table and its notes."""
    if quiet:
        console.print(summary_line(est), highlight=False)
        return
    console.print(cost_table(est))
    for note in cost_notes(est):
        console.print(f"  {note}", highlight=False)


def _cents(value: float) -> float:
    return round(value, 2)


def estimate_json(est: Estimate) -> dict[str, Any]:
    """The estimate as plain data (USD rounded to cents; no timestamps, so reruns are byte-identical)."""
    return {
        "stack": est.stack,
        "substrate": est.substrate,
        "region": est.region,
        "currency": "USD",
        "pricing": {"table": est.table_name, "read_on": est.table_read_on, "hours_per_month": est.hours_per_month,
                    "sources": dict(sorted(est.sources.items()))},
        "assumptions": {"busy_hours_per_month": est.assumptions.busy_hours,
                        "free_tier_credit_available": est.assumptions.free_tier_credit},
        "lines": [{"key": line.key, "item": line.item, "detail": line.detail, "idle_usd": _cents(line.idle_usd),
                   "busy_usd": _cents(line.busy_usd), "on_demand_busy_usd": _cents(line.on_demand_busy_usd),
                   "prices": list(line.prices), "missing": list(line.missing)} for line in est.lines],
        "totals": {"idle_usd": _cents(est.idle_total), "busy_usd": _cents(est.busy_total),
                   "spot_savings_busy_usd": _cents(est.spot_savings_busy), "complete": est.complete},
        "unconfirmed": [{"entry": key, "reason": reason} for key, reason in est.unconfirmed],
        "notes": list(est.notes),
        "not_counted": list(NOT_COUNTED),
    }


def write_cost_json(est: Estimate, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(estimate_json(est), indent=2) + "\n")
    return path
