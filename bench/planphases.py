"""The `llmp plan` code path, timed phase by phase, and the bare-SDK baseline it is compared with.

`timed_plan` runs what `llmp plan` runs (llmp/cli.py `plan`) minus printing:
`run_program` (config validation + the real `__main__.py` under the recording mocks), `write_plan`
(plan.json + manifests) and `run_policies` (the CrossGuard pack in-process).

`timed_bare` replays the same registrations (same types, names, parent tree and input values) with
plain `pulumi.CustomResource` / `pulumi.ComponentResource` under the SDK's stock `set_mocks` and stock
`MockMonitor`: what registering that many resources costs with no platform code at all. Both run with
CPython's full garbage collections paused, as `llmp plan` runs its program (llmp/plan/gcpause.py).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from llmp.plan.gcpause import full_collections_paused
from llmp.plan.mocks import Registration
from llmp.plan.render import scrub, write_plan
from llmp.plan.runner import PlanRun, run_program
from llmp.plan.crossguard import run_policies


@dataclass(frozen=True)
class PlanTiming:
    """Seconds per phase of one offline plan."""

    program_s: float
    render_s: float
    policies_s: float
    resources: int
    components: int
    """Registrations with custom=False (ComponentResources); `resources` counts all."""

    @property
    def total_s(self) -> float:
        return self.program_s + self.render_s + self.policies_s


def timed_plan(project_dir: Path, stack: str) -> tuple[PlanTiming, PlanRun]:
    """One `llmp plan` of `stack` in this process; output goes to a temporary folder, removed after."""
    out = Path(tempfile.mkdtemp(prefix="llmp-bench-out-"))
    try:
        t0 = time.perf_counter()
        run = run_program(project_dir, stack)
        t1 = time.perf_counter()
        paths = write_plan(run, out)
        t2 = time.perf_counter()
        run_policies(paths["plan"], stack, project_dir=project_dir)
        t3 = time.perf_counter()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    components = sum(1 for r in run.registrations if not r.custom)
    return PlanTiming(t1 - t0, t2 - t1, t3 - t2, len(run.registrations), components), run


class _EchoMocks(pulumi_mocks.Mocks):
    """The least a mock can do: every resource's state is its inputs; no invokes are expected."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi_mocks.MockCallArgs):
        raise RuntimeError(f"the bare baseline makes no invokes, got {args.token}")


@dataclass(frozen=True)
class BareResource:
    """One registration to replay: plain values only (secrets unwrapped, internal keys dropped)."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    inputs: dict[str, Any]


def bare_program(registrations: tuple[Registration, ...]) -> list[BareResource]:
    """The registrations in parent-before-child order, inputs scrubbed to plain values."""
    by_urn = {r.urn: r for r in registrations}
    ordered: list[BareResource] = []
    seen: set[str] = set()

    def visit(reg: Registration) -> None:
        if reg.urn in seen:
            return
        if reg.parent in by_urn:
            visit(by_urn[reg.parent])
        seen.add(reg.urn)
        ordered.append(BareResource(reg.urn, reg.type, reg.name, reg.custom,
                                    reg.parent if reg.parent in by_urn else "", scrub(reg.inputs)))

    for reg in registrations:
        visit(reg)
    return ordered


def timed_bare(resources: list[BareResource], project: str, stack: str) -> float:
    """Seconds to register `resources` under stock mocks and the stock MockMonitor, measured like
    `run_program` is. Raises RuntimeError unless every URN was registered."""

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for res in resources:
            opts = pulumi.ResourceOptions(parent=made[res.parent]) if res.parent else None
            if res.custom:
                made[res.urn] = pulumi.CustomResource(res.type, res.name, dict(res.inputs), opts)
            else:
                comp = pulumi.ComponentResource(res.type, res.name, None, opts)
                comp.register_outputs({})
                made[res.urn] = comp

    monitor = pulumi_mocks.MockMonitor(_EchoMocks())
    t0 = time.perf_counter()
    pulumi_mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    runtime_config.set_all_config({}, [])
    with full_collections_paused():  # as run_program does: like for like
        _sync_await(run_pulumi_func(program))
    elapsed = time.perf_counter() - t0
    # Same URNs on both sides, or the comparison is not like for like.
    missing = {r.urn for r in resources} - set(monitor.resources)
    if missing or len(monitor.resources) != len(resources):
        raise RuntimeError(f"bare replay registered {len(monitor.resources)} of {len(resources)} resources; "
                           f"missing e.g. {sorted(missing)[:3]}")
    return elapsed
