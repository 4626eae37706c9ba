"""The one recording-mocks fixture for component tests.

`recorder.run(build)` calls `build()` inside the Pulumi runtime (as `@pulumi.runtime.test` does) and
returns only after every resource registration has finished, so a test then asserts synchronously on
`recorder.registrations` (inputs, parents, providers, options). An apply callback of
`@pulumi.runtime.test` can fire before a component's later children register, which makes
assertions there flaky; this is the reason for `run`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from llmp.plan.mocks import PlanMocks, RecordingMonitor, Registration
from llmp.plan.render import scrub


T = TypeVar("T")


class Recorder:
    def __init__(self, monitor: RecordingMonitor):
        self.monitor = monitor

    def run(self, build: Callable[[], T]) -> T:
        """Run `build` as a Pulumi program and wait for all its registrations; return what it returned."""
        SETTINGS.rpc_manager.clear()
        result: list[Any] = []
        _sync_await(run_pulumi_func(lambda: result.append(build())))
        return result[0]

    @staticmethod
    def resolve(output: pulumi.Input[Any]) -> tuple[Any, bool]:
        """(value, is_secret) of an Output after `run`."""
        out = pulumi.Output.from_input(output)
        return _sync_await(out.future()), _sync_await(out.is_secret())

    @property
    def registrations(self) -> list[Registration]:
        return sorted(self.monitor.registrations.values(), key=lambda r: r.urn)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.registrations if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name!r}, found {len(matches)}"
        return matches[0]

    def children_of(self, parent: Registration) -> list[Registration]:
        return [r for r in self.registrations if r.parent == parent.urn]

    def inputs(self, reg: Registration) -> dict:
        """Inputs with secrets as "[secret]" and integral floats as ints."""
        return scrub(reg.inputs)


@pytest.fixture
def recorder(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """Fresh recording mocks for one test; `preview` via `@pytest.mark.parametrize('preview', ...)` indirect."""
    preview = getattr(request, "param", False)
    mocks = PlanMocks()
    monitor = RecordingMonitor(mocks)
    # A plan run earlier in this process (`llmp plan` in-process) leaves its root Stack set; set_mocks keeps
    # a root it finds, so the URNs here would name that stack instead of `test`.
    pulumi.runtime.settings.ROOT.set(None)
    pulumi_mocks.set_mocks(mocks, project="llm-platform", stack="test", preview=preview, monitor=monitor)
    yield Recorder(monitor)


