"""The human view of a plan: the component tree with child counts, and a summary by type."""

from __future__ import annotations

from collections import Counter

from rich.table import Table
from rich.tree import Tree

from llmp.plan.mocks import Registration
from llmp.plan.runner import PlanRun


def _descendants(urn: str, children: dict[str, list[Registration]]) -> int:
    return sum(1 + _descendants(c.urn, children) for c in children.get(urn, []))


def resource_tree(run: PlanRun, *, collapse_over: int = 6) -> Tree:
    """Components with their children; runs of more than `collapse_over` same-type leaves are counted."""
    children: dict[str, list[Registration]] = {}
    for reg in run.registrations:
        children.setdefault(reg.parent, []).append(reg)
    root_urns = [u for u in children if u and u not in {r.urn for r in run.registrations}]
    tree = Tree(f"[bold]{run.project}[/] stack [bold]{run.stack}[/]  ({len(run.registrations)} resources)")

    def add(node: Tree, parent_urn: str) -> None:
        kids = sorted(children.get(parent_urn, []), key=lambda r: (r.custom, r.type, r.name))
        leaves: dict[str, list[Registration]] = {}
        for kid in kids:
            if kid.urn in children:
                count = _descendants(kid.urn, children)
                branch = node.add(f"[cyan]{kid.name}[/] [dim]{kid.type}[/] ({count} children)")
                add(branch, kid.urn)
            else:
                leaves.setdefault(kid.type, []).append(kid)
        for typ, regs in sorted(leaves.items()):
            if len(regs) > collapse_over:
                node.add(f"[dim]{typ}[/] x{len(regs)}")
            else:
                for reg in regs:
                    node.add(f"{reg.name} [dim]{typ}[/]" + (" [yellow](protected)[/]" if reg.protect else ""))

    for root in sorted(root_urns):
        add(tree, root)
    return tree


def summary_table(run: PlanRun) -> Table:
    counts = Counter(r.type for r in run.registrations)
    table = Table(title=f"Plan summary: {run.stack}", show_lines=False)
    table.add_column("type")
    table.add_column("count", justify="right")
    for typ, n in sorted(counts.items()):
        table.add_row(typ, str(n))
    table.add_row("[bold]total[/]", f"[bold]{sum(counts.values())}[/]")
    return table
