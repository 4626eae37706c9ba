"""One readable report for a bad stack config: every problem, its key path, value and what is allowed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import ValidationError
from pydantic_core import PydanticCustomError


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
        return PATTERN_HINTS.get(ctx["pattern"], f"must match {ctx['pattern']}")
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


PROBLEMS_ERROR = "llmp_problems"


def raise_problems(problems: list[Problem]) -> None:
    """From a model validator: report several problems, each at `<model path>.<problem.path>`."""
    if problems:
        raise PydanticCustomError(PROBLEMS_ERROR, "{summary}",
                                  {"problems": problems, "summary": "; ".join(p.render() for p in problems)})


PATTERN_HINTS: dict[str, str] = {}
"""Readable descriptions of regex patterns, registered by the schema module next to each pattern."""


def problems_from_validation_error(exc: ValidationError, prefix: tuple = ()) -> list[Problem]:
    """Turn a pydantic ValidationError into Problems, one per error, with key paths."""
    problems = []
    for err in exc.errors(include_url=False):
        if err["type"] == PROBLEMS_ERROR:
            # A model validator's bundle of problems, each with its own path below the model's location.
            base = prefix + _drop_union_tags(err["loc"])
            for sub in err["ctx"]["problems"]:
                problems.append(Problem(format_loc(base + tuple(sub.path.split("."))), sub.value, sub.allowed,
                                        sub.missing))
            continue
        # pydantic reports a variadic tuple whose items failed as also "too short"; that is noise.
        if err["type"] == "too_short" and isinstance(err.get("input"), (list, tuple)) \
                and len(err["input"]) >= (err.get("ctx") or {}).get("min_length", 0):
            continue
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
