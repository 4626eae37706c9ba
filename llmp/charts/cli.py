"""`llmp charts`: where the pinned charts come from, and a pull for machines with network access."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="The pinned Helm charts the plan renders: list their sources, or pull them.")
console = Console(soft_wrap=True)


def _refs(project_dir: Path, stacks: list[str]) -> list:
    """Every distinct chart the program installs on `stacks` (all stack files when empty)."""
    from llmp.charts.write import release_specs
    from llmp.plan.render import plan_document
    from llmp.plan.runner import run_program

    names = stacks or sorted(p.name.split(".")[1] for p in project_dir.glob("Pulumi.*.yaml"))
    seen = {}
    for stack in names:
        for spec in release_specs(plan_document(run_program(project_dir, stack))):
            seen.setdefault((spec.ref.chart, spec.ref.version), spec.ref)
    return [seen[k] for k in sorted(seen)]


@app.command("list")
def list_charts(
    stacks: list[str] = typer.Argument(None, help="Stacks to read (default: every Pulumi.<stack>.yaml)."),
    project_dir: Path = typer.Option(Path.cwd(), "--project-dir", "-C", help="Folder with Pulumi.yaml."),
) -> None:
    """Each pinned chart and the source the plan would render it from (or how to provide it)."""
    from llmp.charts.sources import ChartSourceError, locate

    missing = 0
    for ref in _refs(project_dir.resolve(), stacks or []):
        try:
            console.print(f"{ref.name} {ref.version}: {locate(ref)}", highlight=False)
        except ChartSourceError as exc:
            missing += 1
            console.print(f"[red]missing[/] {exc}", highlight=False)
    raise typer.Exit(1 if missing else 0)


@app.command()
def pull(
    stacks: list[str] = typer.Argument(None, help="Stacks to read (default: every Pulumi.<stack>.yaml)."),
    project_dir: Path = typer.Option(Path.cwd(), "--project-dir", "-C", help="Folder with Pulumi.yaml."),
) -> None:
    """Download every pinned chart (by repository and version) into the cache the plan searches.

    Needs network access to the charts' repositories; charts already found anywhere are not pulled again.
    """
    from llmp.charts.pull import pull_missing

    failed = 0
    for ref, outcome in pull_missing(_refs(project_dir.resolve(), stacks or [])):
        failed += outcome.startswith("failed")
        console.print(f"{ref.name} {ref.version}: {outcome}", highlight=False)
    raise typer.Exit(1 if failed else 0)
