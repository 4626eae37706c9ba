"""The one recording-mocks fixture for component tests.

Use it with `@pulumi.runtime.test`: build components inside the test, return an Output that depends
on them, then assert on `recorder.registrations` (inputs, parents, providers, options).
"""

from __future__ import annotations

from collections.abc import Iterator

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks

from llmplatform.plan.mocks import PlanMocks, RecordingMonitor, Registration
from llmplatform.plan.render import scrub


class Recorder:
    def __init__(self, monitor: RecordingMonitor):
        self.monitor = monitor

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
    pulumi_mocks.set_mocks(mocks, project="llm-platform", stack="test", preview=preview, monitor=monitor)
    yield Recorder(monitor)


def wait_for(*resources: pulumi.Resource) -> pulumi.Output:
    """An Output that resolves once every resource is registered (return it from a runtime test)."""
    return pulumi.Output.all(*[r.urn for r in resources])
