"""One readable report for a bad stack config: every problem, its key path, value and what is allowed."""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pulumi
from pulumi.errors import InputPropertiesError
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from llmplatform.problems import InvalidInputs, Problem


class ConfigError(InvalidInputs, pulumi.RunError):
    """Raised once with every problem in the stack config (`raise_problems(source, problems, error=ConfigError)`).

    It subclasses `pulumi.RunError` so that under the real Pulumi CLI the message prints without a
    Python traceback; `llmp plan` prints it and exits with status 2.
    """

    exit_code = 2

    def __init__(self, subject: str, problems: Sequence[Problem]):
        super().__init__(subject, problems)


class StackFileError(ConfigError):
    """A stack file that is not YAML, or not shaped like a Pulumi stack file: one message naming the
    file, the line and column (1-based), and what the reader expected there."""

    def __init__(self, path: Path, line: int, column: int, what: str):
        self.subject, self.problems = str(path), ()
        self.path, self.line, self.column = path, line, column
        InputPropertiesError.__init__(self, f"{path}:{line}:{column}: {what}", [])


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
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"must be {kind.split('_')[0]}" + ("" if kind.endswith("_type") else " (could not parse)")
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"][0].lower() + err["msg"][1:]


PROBLEMS_ERROR = "llmp_problems"


def bundle_for_pydantic(problems: list[Problem]) -> None:
    """From a model validator: report several problems, each at `<model path>.<problem.path>` (pydantic
    carries them to `problems_from_validation_error`)."""
    if problems:
        raise PydanticCustomError(PROBLEMS_ERROR, "{summary}",
                                  {"problems": problems, "summary": "; ".join(p.render() for p in problems)})


PATTERN_HINTS: dict[str, str] = {}
"""Readable descriptions of regex patterns, registered by the schema module next to each pattern."""


def problems_from_validation_error(exc: ValidationError, prefix: tuple = (),
                                   model: type[BaseModel] | None = None) -> list[Problem]:
    """Turn a pydantic ValidationError into Problems, one per error, with key paths.

    An unknown key is matched with the known keys of its mapping (`model`'s schema at that place): a
    misspelt required key (`budjet_usd`) is one problem suggesting `budget_usd`, not a missing key
    plus an unknown one.
    """
    problems = []
    extras: list[tuple[tuple, Any]] = []
    missing: list[tuple] = []
    for err in exc.errors(include_url=False):
        if err["type"] == PROBLEMS_ERROR:
            # A model validator's bundle of problems, each with its own path below the model's location.
            base = prefix + _drop_union_tags(err["loc"])
            for sub in err["ctx"]["problems"]:
                problems.append(sub.under(format_loc(base) if base else ""))
            continue
        # pydantic reports a variadic tuple whose items failed as also "too short"; that is noise.
        if err["type"] == "too_short" and isinstance(err.get("input"), (list, tuple)) \
                and len(err["input"]) >= (err.get("ctx") or {}).get("min_length", 0):
            continue
        loc = prefix + _drop_union_tags(err["loc"])
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            problems.append(_union_tag_problem(err, loc))
        elif err["type"] == "extra_forbidden":
            extras.append((err["loc"], err.get("input")))
        elif err["type"] == "missing":
            missing.append(err["loc"])
        else:
            problems.append(Problem(format_loc(loc), err.get("input"), _allowed(err)))
    for raw_loc, value in extras:
        parent, key = raw_loc[:-1], str(raw_loc[-1])
        absent = [str(m[-1]) for m in missing if m[:-1] == parent]
        meant = difflib.get_close_matches(key, absent, n=1, cutoff=0.6)
        if meant:
            missing.remove(parent + (meant[0],))
            hint = f"did you mean {meant[0]!r}? (it is required)"
        else:
            known = known_keys(model, parent) if model else []
            meant = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {meant[0]!r}?" if meant else \
                (f"known keys here: {', '.join(known)}" if known else "check the spelling against docs/configuration.md")
        problems.append(Problem(format_loc(prefix + _drop_union_tags(raw_loc)), value, hint, unknown=True))
    for raw_loc in missing:
        problems.append(Problem(format_loc(prefix + _drop_union_tags(raw_loc)), None, "add it to the stack config",
                                missing=True))
    return problems


def _union_tag_problem(err: dict, loc: tuple) -> Problem:
    """The tag of a tagged union (`substrate.kind`) named as the key at fault, not the whole mapping."""
    tag = (err.get("ctx") or {}).get("discriminator", "kind").strip("'")
    tags = ", ".join(UNION_TAGS.get(str(loc[-1]) if loc else "", ())) or "see docs/configuration.md"
    if err["type"] == "union_tag_invalid":
        return Problem(format_loc(loc + (tag,)), err["ctx"].get("tag"), f"must be one of: {tags}")
    given = err.get("input") if isinstance(err.get("input"), dict) else {}
    meant = difflib.get_close_matches(tag, [str(k) for k in given], n=1, cutoff=0.6)
    if meant:  # the tag is there, misspelt; pydantic stops before reporting the misspelling as unknown
        return Problem(format_loc(loc + (meant[0],)), given[meant[0]], f"did you mean {tag!r}? (it is required)",
                       unknown=True)
    return Problem(format_loc(loc + (tag,)), None, f"add it: one of {tags}", missing=True)


def known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys `model`'s schema accepts in the mapping at `loc` (a pydantic error location, union tags
    included); [] when `loc` does not lead to a model."""
    node: Any = model
    for part in loc:
        node = _step(node, part)
        if node is None:
            return []
    found = [c for c in _alternatives(node) if _is_model(c)]
    return list(found[0].model_fields) if len(found) == 1 else []


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _alternatives(tp: Any) -> list[Any]:
    """`Annotated[X, ...]`, `X | Y`, `X | None` -> the plain types a value may have."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _alternatives(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [alt for arg in get_args(tp) for alt in _alternatives(arg)]
    return [tp]


def _step(tp: Any, part: Any) -> Any:
    for alt in _alternatives(tp):
        if isinstance(part, int) and get_origin(alt) in (tuple, list):
            return get_args(alt)[0]
        if isinstance(part, str) and _is_model(alt):
            if part in alt.model_fields:
                return alt.model_fields[part].annotation
            kind = alt.model_fields.get("kind")
            if kind is not None and get_origin(kind.annotation) is Literal and part in get_args(kind.annotation):
                return alt  # the tag of a discriminated union (`substrate.gke`)
    return None


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
