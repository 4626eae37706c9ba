"""One problem type and one way to raise it, for the stack config, every component and VastHost.

A `Problem` names the input at fault by its key path (`tenants[1].budget_usd`, `gateway.replicas`), the
value given, why it is refused (what is allowed) and, where one exists, the fix. Predicates return
lists of problems; whoever owns the inputs raises them all at once with `raise_problems`, so a user
sees every problem in one report and the same rule reads the same wherever it is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from pulumi.errors import InputPropertiesError, InputPropertyErrorDetails


class _Unset:
    """The value of a problem that is about a combination, not one value (nothing to show)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Problem:
    """One refused input: `path` like `tenants[1].budget_usd`, the `value` given, the `reason` it is
    refused (what is allowed), and the `fix` when there is one."""

    path: str
    value: Any = UNSET
    """The value given; `UNSET` when the problem is about a combination of inputs."""
    reason: str = ""
    """What is allowed, or why the value is refused, as one clause (`must be > 0`)."""
    fix: str = ""
    """What to change; empty when the reason says it already."""
    missing: bool = False
    """The key is required and absent; `reason` says where to add it."""
    unknown: bool = False
    """The key itself is not in the schema; `reason` names the nearest known key or lists them."""

    def explain(self) -> str:
        """The report line without the path: what is wrong, what is allowed, the fix."""
        if self.missing:
            head = "is required"
        elif self.unknown:
            head = "is not a known key"
        elif self.value is UNSET:
            head = ""
        else:
            head = f"{show(self.value)} is not allowed"
        text = "; ".join(part for part in (head, self.reason) if part)
        return f"{text}. Fix: {self.fix}" if self.fix else text

    def render(self) -> str:
        return f"{self.path}: {self.explain()}"

    def under(self, prefix: str) -> Problem:
        """The same problem with its path below `prefix` (`gateway` + `replicas` -> `gateway.replicas`)."""
        if not prefix:
            return self
        path = self.path if self.path.startswith("[") else f".{self.path}" if self.path else ""
        return replace(self, path=f"{prefix}{path}")

    def detail(self) -> InputPropertyErrorDetails:
        """As Pulumi reports an invalid component input."""
        return {"property_path": self.path, "reason": self.explain()}


def show(value: Any) -> str:
    """A value as the stack file would spell it (`'shared'`, `true`, `null`), shortened past 60 characters."""
    if isinstance(value, Enum):  # as it is configured: `'prod'`, not `<Profile.PROD: 'prod'>`
        return repr(value.value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list, tuple)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def path_sort_key(path: str) -> tuple[str, ...]:
    return tuple(path.replace("]", "").replace("[", ".").split("."))


class InvalidInputs(InputPropertiesError):
    """Every problem with one set of inputs (a component's args, the stack config), raised once.

    An `InputPropertiesError`, so Pulumi shows each problem against its property path; `problems`
    keeps the typed problems for callers that report them their own way.
    """

    def __init__(self, subject: str, problems: Sequence[Problem]):
        self.subject = subject
        self.problems: tuple[Problem, ...] = tuple(sorted(problems, key=lambda p: path_sort_key(p.path)))
        lines = [f"{subject} has {len(self.problems)} problem(s):"]
        lines += [f"  - {p.render()}" for p in self.problems]
        super().__init__("\n".join(lines), [p.detail() for p in self.problems])


def raise_problems(subject: str, problems: Sequence[Problem], *,
                   error: type[InvalidInputs] = InvalidInputs) -> None:
    """Raise `error(subject, problems)` when there is any problem; return quietly when there is none.

    `subject` names what was given (`GovernancePack 'governance'`, `stack 'prod' config`)."""
    if problems:
        raise error(subject, problems)
