"""`llmp`: the offline plan, the proofs (SR1-SR3, manifest validity), the multi-GPU validation and tenants' IDE
configurations of the llm-platform Pulumi program. Start with `llmp plan dev`, then `llmp verify dev`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from llmplatform.config.errors import ConfigError
from llmp.cost.assumptions import DEFAULT_BUSY_HOURS

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
LOG_WIDTH = 1000
"""Columns rich lays tables out in when output goes to a file, pipe or CI log: wide enough that no
cell or line wraps (a log viewer scrolls; a wrapped type name or price cannot be searched)."""


def _console(*, stderr: bool = False) -> Console:
    """A terminal gets rich's layout at its own width; anything else gets whole lines."""
    terminal = Console(stderr=stderr)
    return terminal if terminal.is_terminal else Console(stderr=stderr, width=LOG_WIDTH, soft_wrap=True)


console = _console()
err_console = _console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"llmp {version('llm-platform')}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    _: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Offline plan and proofs for the llm-platform Pulumi program."""
    global console, err_console
    # Per invocation, not at import: the same process may print to a terminal, then to a test's capture.
    console, err_console = _console(), _console(stderr=True)


def find_project_dir(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / "Pulumi.yaml").exists():
            return candidate
    raise typer.BadParameter(f"no Pulumi.yaml in {start} or its parents; run llmp inside the project")


@app.command()
def plan(
    stack: str = typer.Argument(..., help="Stack name: reads Pulumi.<stack>.yaml."),
    project_dir: Path = typer.Option(Path.cwd(), "--project-dir", "-C", help="Folder with Pulumi.yaml."),
    out: Path | None = typer.Option(None, help="Output folder (default: <project>/build/<stack>)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary line."),
    hours_busy: float = typer.Option(
        DEFAULT_BUSY_HOURS, "--hours-busy", min=0, max=730,
        help="Hours a month the GPU pools run at their busy size, for the cost estimate's busy total.",
    ),
) -> None:
    """Run the real program under the Pulumi SDK's mocks; write plan.json, manifests/ and cost.json.

    No Pulumi CLI, provider plugin, cluster or credentials are used. This is not a preview: there is
    no diff against state and no provider-side validation (see docs/offline-plan.md). The monthly
    cost estimate (idle and busy) is priced from the repo's pricing table (see docs/cost.md).
    """
    from llmp.plan.render import write_plan
    from llmp.plan.runner import PlanError, run_program
    from llmp.plan.tree import resource_tree, summary_table

    root = find_project_dir(project_dir.resolve())
    out_dir = out or root / "build" / stack
    try:
        run = run_program(root, stack)
    except ConfigError as exc:
        err_console.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(ConfigError.exit_code) from None
    except PlanError as exc:
        err_console.print(f"[red]offline plan failed:[/] {exc}", highlight=False)
        raise typer.Exit(3) from None
    paths = write_plan(run, out_dir)
    charts = _render_charts(paths["plan"], out_dir)
    if not quiet:
        console.print(resource_tree(run))
        console.print(summary_table(run))
    from llmp.cost.assumptions import Assumptions
    from llmp.cost.render import print_estimate, totals_text, write_cost_json
    from llmp.cost.stack import stack_estimate

    cost = stack_estimate(root, stack, Assumptions(busy_hours=hours_busy))
    write_cost_json(cost, out_dir / "cost.json")
    if not quiet:
        print_estimate(cost, console, quiet=False)
        if run.outputs.get("tenantGatewayCapacity"):
            console.print(f"tenant gateway capacity: {run.outputs['tenantGatewayCapacity']}", highlight=False)
    from llmp.plan.crossguard import POLICY_EXIT_CODE, has_mandatory, run_policies, write_policy_json
    from llmp.plan.crossguard.findings import print_findings, summary

    findings = run_policies(paths["plan"], stack, project_dir=root)
    write_policy_json(findings, out_dir / "policy.json", stack=stack, runner="in-process")
    print_findings(findings, console, err_console, quiet=quiet)
    n_manifests = sum(1 for _ in paths["manifests"].glob("*.yaml"))
    counts = ", ".join(f"{n} {kind}" for kind, n in summary(findings).items())
    console.print(
        f"[green]planned[/] {len(run.registrations)} resources for stack [bold]{stack}[/]: "
        f"{paths['plan'].relative_to(root) if paths['plan'].is_relative_to(root) else paths['plan']}, "
        f"{n_manifests} manifest file(s) and {len(charts.rendered)} of {len(charts.releases)} Helm chart(s) "
        f"rendered in {paths['manifests']}, policy.json ({counts}), "
        f"cost.json ({totals_text(cost)})", highlight=False,
    )
    if has_mandatory(findings):
        err_console.print("[red]mandatory policy violations[/]: see policy.json")
        raise typer.Exit(POLICY_EXIT_CODE)
    if not quiet:
        where = (f" -C {root}" if root != Path.cwd().resolve() else "") + (f" --build-dir {out_dir}" if out else "")
        console.print(f"next: [bold]llmp verify {stack}{where}[/] proves SR1-SR3 and manifest validity on this plan "
                      "(docs/verify.md)", highlight=False)


def _render_charts(plan_path: Path, out_dir: Path):
    """Render every Helm release the plan records (llmp/charts); a missing chart source is said,
    and under CI=true it fails the plan (exit 3) so no proof silently runs without the charts' objects."""
    import json
    import os

    from llmp.charts.write import ChartRenderError, write_charts

    try:
        charts = write_charts(json.loads(plan_path.read_text()), out_dir)
    except ChartRenderError as exc:
        err_console.print(f"[red]chart rendering failed:[/] {exc}", highlight=False)
        raise typer.Exit(3) from None
    for entry in charts.missing:
        err_console.print(f"[yellow]chart not rendered[/] (release {entry['release']}; its objects are not "
                          f"proved): {charts.messages.get(entry['release'], entry['reason'])}", highlight=False)
    if charts.missing and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        err_console.print("[red]CI=true: every chart must be rendered[/]")
        raise typer.Exit(3)
    return charts


@app.command()
def verify(
    stack: str = typer.Argument(..., help="Stack whose plan (build/<stack>) to verify."),
    project_dir: Path = typer.Option(Path.cwd(), "--project-dir", "-C", help="Folder with Pulumi.yaml."),
    build_dir: Path | None = typer.Option(None, help="Plan output folder (default: <project>/build/<stack>)."),
    checkov: bool = typer.Option(True, help="Run checkov (slow; needs .venv-checkov, see Makefile.checkov)."),
) -> None:
    """Prove SR1-SR3 and manifest validity on what `llmp plan` rendered; exit 1 if any proof fails.

    Writes build/<stack>/verify.json and report.md (with the connectivity matrix picture).
    """
    from llmplatform.config.stack_file import stacks_in
    from llmp.verify.report import print_report, write_report
    from llmp.verify.run import verify_stack

    root = find_project_dir(project_dir.resolve())
    out_dir = build_dir or root / "build" / stack
    if not (out_dir / "plan.json").exists() and not (root / f"Pulumi.{stack}.yaml").exists():
        # Suggesting `llmp plan <stack>` here would send the user to a second error.
        err_console.print(f"[red]error:[/] no stack config Pulumi.{stack}.yaml in {root}; stacks here: "
                          f"{', '.join(stacks_in(root)) or 'none'}", highlight=False)
        raise typer.Exit(3)
    if checkov:
        from llmp.verify.manifests.checkov_scan import CHECKOV_VERSION, checkov_installed, default_venv

        if not checkov_installed():
            err_console.print(f"installing checkov {CHECKOV_VERSION} into {default_venv()} (first run only, about a "
                              "minute; --no-checkov skips it)...", highlight=False)
    try:
        report = verify_stack(root, stack, build_dir=out_dir, checkov=checkov)
    except FileNotFoundError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(3) from None
    print_report(report, console)
    json_path, md_path = write_report(report, out_dir)
    console.print(f"{'[green]verified[/]' if report.passed else '[red]verification failed[/]'}: {json_path}, {md_path}")
    if not report.passed:
        raise typer.Exit(1)


@app.command("validate-multigpu")
def validate_multigpu(
    kubeconfig: str = typer.Option(..., help="Kubeconfig path, e.g. <(pulumi stack output kubeconfig --show-secrets)."),
    stack: str = typer.Option("vast", help="Stack whose Pulumi.<stack>.yaml states what was deployed."),
    project_dir: Path = typer.Option(Path.cwd(), "--project-dir", "-C", help="Folder with Pulumi.yaml."),
    base_url: str | None = typer.Option(None, help="Inference gateway base URL (e.g. a kubectl port-forward)."),
    model: str | None = typer.Option(None, help="Model name; default: first with min_replicas >= 2."),
    only: list[str] | None = typer.Option(None, help="Run only these: timeslicing, fanout, rollout."),
    requests: int = typer.Option(300, help="Fan-out: most requests to send."),
    duration: float = typer.Option(120.0, help="Fan-out: most seconds of load."),
    concurrency: int = typer.Option(12, help="Fan-out: requests in flight."),
    rollout_timeout: float = typer.Option(1800.0, help="Rollout: most seconds for the restart to finish."),
    dph_usd: float | None = typer.Option(None, help="USD per hour for the cost line (default: max_dph_usd)."),
    out: Path | None = typer.Option(None, help="Report folder (default: <project>/build/validate-multigpu)."),
) -> None:
    """Prove EPP fan-out, zero-loss rolling updates and GPU time-slicing on a deployed cluster.

    Writes one JSON report (machine facts, pass/fail per criterion with numbers, cost); exit 1 on failure.
    The gateway key comes from env LLMP_VALIDATE_API_KEY, else from the model servers' Secret.
    """
    import os

    from llmp.multigpu.loadgen import LoadSpec
    from llmp.multigpu.rollout import RolloutTiming
    from llmp.multigpu.run import CRITERIA, RUN_ERRORS, ValidationOptions, print_summary, run_validation

    root = find_project_dir(project_dir.resolve())
    opts = ValidationOptions(
        kubeconfig=kubeconfig, project_dir=root, stack=stack, base_url=base_url,
        api_key=os.environ.get("LLMP_VALIDATE_API_KEY"), model=model,
        criteria=tuple(only or CRITERIA), dph_usd=dph_usd, out_dir=out or root / "build" / "validate-multigpu",
        fanout_load=LoadSpec(requests=requests, duration_s=duration, concurrency=concurrency),
        rollout_timing=RolloutTiming(timeout_s=rollout_timeout),
    )
    try:
        report, path = run_validation(opts)
    except (ConfigError, *RUN_ERRORS) as exc:
        err_console.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    print_summary(report, path, console)
    if not report["passed"]:
        raise typer.Exit(1)


@app.command("ide-config")
def ide_config(
    stack: str = typer.Argument(..., help="Stack name: reads Pulumi.<stack>.yaml."),
    tenant: str = typer.Option(..., "--tenant", help="Tenant name (tenants[].name)."),
    client: str = typer.Option(..., "--client", help="IDE client: continue (config.yaml) or opencode (opencode.json)."),
    base_url: str | None = typer.Option(
        None, "--base-url", help="Gateway URL clients put before /chat/completions, e.g. https://llm.example.com/v1 "
                                 "(default: from the stack, where it publishes the gateway under a DNS name)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the file here (default: stdout)."),
    project_dir: Path = typer.Option(Path.cwd(), "--project-dir", "-C", help="Folder with Pulumi.yaml."),
) -> None:
    """Write an IDE client's configuration for one tenant: the gateway URL, the chat, autocomplete (FIM) and
    agent models the tenant may call, and the key as a reference to $LLMP_API_KEY (never its value).

    Exit 2: a bad stack file, an unknown tenant, a tenant without a model the client can use, or no base URL.
    See docs/ide.md.
    """
    from llmp.ide.build import build
    from llmp.ide.clients import Client, DEFAULT_FILE
    from llmp.ide.roles import IdeConfigError

    root = find_project_dir(project_dir.resolve())
    try:
        which = Client(client)
    except ValueError:
        err_console.print(f"[red]error:[/] --client {client!r}: must be one of "
                          f"{', '.join(c.value for c in Client)}", highlight=False)
        raise typer.Exit(2) from None
    try:
        result = build(root, stack, tenant, which, base_url)
    except (ConfigError, IdeConfigError, ValueError) as exc:  # ValueError: no such stack file
        err_console.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    if output is None:
        sys.stdout.write(result.text)
        sys.stdout.flush()  # the file before the notes on stderr, where both go to one terminal
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(result.text)
        err_console.print(f"wrote {output} ({which.value}; save it as {DEFAULT_FILE[which]} where the client "
                          "reads it, docs/ide.md)", highlight=False)
    m = result.models
    roles = [f"chat {m.chat.served_name if m.chat else '-'}", f"autocomplete {m.fim.served_name if m.fim else '-'}",
             f"agent {m.agent.served_name if m.agent else '-'}"]
    err_console.print(f"tenant {m.tenant} on {stack} via {result.base_url}: {', '.join(roles)}", highlight=False)
    for note in result.notes:
        err_console.print(f"note: {note}", highlight=False)


from llmp.charts.cli import app as _charts_app  # noqa: E402 - sub-app registered after the commands

app.add_typer(_charts_app, name="charts")


def main() -> None:  # console-script entry point
    sys.exit(app())


if __name__ == "__main__":
    main()
