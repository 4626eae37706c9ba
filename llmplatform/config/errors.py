"""One readable report for a bad stack config: every problem, its key path, value and what is allowed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    """One bad value: `path` like `tenants[1].budget_usd`, the value given, and what is allowed."""

    path: str
    value: Any
    allowed: str
    missing: bool = False

    def render(self) -> str:
        if self.missing:
            return f"{self.path}: is required; {self.allowed}"
        return f"{self.path}: {_show(self.value)} is not allowed; {self.allowed}"


class ConfigError(pulumi.RunError):
    """Raised once with every problem in the stack config.

    It subclasses `pulumi.RunError` so that under the real Pulumi CLI the message prints without a
    Python traceback; `llmp plan` prints it and exits with status 2.
    """

    exit_code = 2

    def __init__(self, problems: list[Problem], source: str = "stack config"):
        self.problems = sorted(problems, key=lambda p: _path_sort_key(p.path))
        lines = [f"{source} has {len(self.problems)} problem(s):"]
        lines += [f"  - {p.render()}" for p in self.problems]
        super().__init__("\n".join(lines))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def _path_sort_key(path: str) -> tuple:
    return tuple(path.replace("]", "").replace("[", ".").split("."))


def format_loc(loc: tuple) -> str:
    """('tenants', 1, 'budget_usd') -> 'tenants[1].budget_usd'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def _num(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _allowed(err: dict) -> str:
    kind = err["type"]
    ctx = {k: _num(v) for k, v in (err.get("ctx") or {}).items()}
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "less_than":
        return f"must be < {ctx['lt']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind in ("enum", "literal_error"):
        return f"must be one of: {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx['pattern']}"
    if kind in ("string_too_short", "too_short"):
        return f"must have at least {ctx.get('min_length')} item(s)/character(s)"
    if kind in ("string_too_long", "too_long"):
        return f"must have at most {ctx.get('max_length')} item(s)/character(s)"
    if kind == "extra_forbidden":
        return "is not a known key (check the spelling against docs/configuration.md)"
    if kind == "union_tag_invalid":
        return f"must be one of: {ctx.get('expected_tags', '')}"
    if kind == "union_tag_not_found":
        return f"needs a '{ctx.get('discriminator', 'kind').strip(chr(39))}' key"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"must be {kind.split('_')[0]}" + ("" if kind.endswith("_type") else " (could not parse)")
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"][0].lower() + err["msg"][1:]


def problems_from_validation_error(exc: ValidationError, prefix: tuple = ()) -> list[Problem]:
    """Turn a pydantic ValidationError into Problems, one per error, with key paths."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + _drop_union_tags(err["loc"])
        if err["type"] == "missing":
            problems.append(Problem(format_loc(loc), None, "add it to the stack config", missing=True))
        else:
            problems.append(Problem(format_loc(loc), err.get("input"), _allowed(err)))
    return problems


UNION_TAGS = {"substrate": ("gke", "vast")}


def _drop_union_tags(loc: tuple) -> tuple:
    # pydantic puts the discriminator tag into the location of a tagged union
    # (`substrate.gke.project`); users wrote `substrate.project`, so report that.
    out: list = []
    for part in loc:
        if out and isinstance(part, str) and part in UNION_TAGS.get(str(out[-1]), ()):
            continue
        out.append(part)
    return tuple(out)
