"""What the SR2 proof reports: mismatches, verdicts on platform objects, and the summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmp.verify.sr2.admission import Admission


@dataclass(frozen=True)
class Mismatch:
    """One kind of disagreement, with how often it happened and the first example."""

    rendering: str
    """"kyverno", "vap", or "engines" (cel-expr-python vs cel-python)."""
    engine: str
    problem: str
    """missed-violation, admitted-outside-kueue-scope, gpu-access-admitted, false-denial, not-blocked,
    blocked-in-audit, cel-alone-missed, cel-alone-false-denial, cel-error, engine-disagreement."""
    count: int
    example: str
    """The first shape that showed it (`ShapeSpec.describe`)."""
    example_object: Mapping[str, Any]
    detail: str = ""


@dataclass(frozen=True)
class ExtraVerdict:
    """How the renderings treat one of the platform's own objects."""

    kind: str
    name: str
    namespace: str
    oracle_violation: bool
    flagged_by: tuple[str, ...]
    """Renderings that deny or report it."""
    blocked_by: tuple[str, ...]
    oracle_reason: str = ""
    """Why SR2 denies it (`unqueued`, `outside-kueue-scope: ...`, `gpu-access-without-request`), or empty."""

    @property
    def wrong(self) -> bool:
        """A rendering denies what SR2 allows, or SR2 denies it (the platform's own object breaks SR2)."""
        return bool(self.flagged_by) or self.oracle_violation


@dataclass(frozen=True)
class Sr2Proof:
    """The result of `prove_sr2`. `ok` is the verdict; the rest explains it."""

    shapes: int
    """Admission requests evaluated on cel-expr-python (every generated shape)."""
    violating_shapes: int
    """Of those, how many SR2 (the independent statement) denies: the proof is not vacuous."""
    cel_python_shapes: int
    """Of those, how many were also evaluated on cel-python."""
    evaluations: int
    """CEL evaluations on cel-expr-python (each distinct inlined text, once per shape)."""
    cel_python_evaluations: int
    mismatches: tuple[Mismatch, ...]
    structural_problems: tuple[str, ...]
    extras: tuple[ExtraVerdict, ...]
    engine_versions: Mapping[str, str]
    namespaces: tuple[str, ...]
    """Probe namespaces, as name(category)."""
    enforce: bool
    seconds: float
    """Wall time of the whole proof, in seconds."""
    evals_per_second: float
    """cel-expr-python evaluations per second of time spent inside the engine (activation + eval)."""
    cel_python_evals_per_second: float
    texts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """The inlined CEL texts evaluated, per rendering."""

    @property
    def extras_flagged(self) -> tuple[ExtraVerdict, ...]:
        """Platform objects a rendering denies or reports, or that break SR2 (e.g. outside Kueue's scope)."""
        return tuple(e for e in self.extras if e.wrong)

    @property
    def ok(self) -> bool:
        """True when there are no mismatches, no structural problems and no platform object is denied."""
        return not self.mismatches and not self.structural_problems and not self.extras_flagged

    def summary(self) -> str:
        lines = [f"SR2 proof: {'PASS' if self.ok else 'FAIL'} ({'enforce' if self.enforce else 'audit'}); "
                 f"{self.shapes} shapes ({self.violating_shapes} violating), {self.evaluations} evaluations "
                 f"on cel-expr-python ({self.evals_per_second:,.0f}/s), {self.cel_python_shapes} shapes / "
                 f"{self.cel_python_evaluations} evaluations on cel-python "
                 f"({self.cel_python_evals_per_second:,.0f}/s), "
                 f"{self.seconds:.1f} s; engines {dict(self.engine_versions)}"]
        lines += [f"  structural: {p}" for p in self.structural_problems]
        lines += [f"  {m.rendering}/{m.engine}: {m.problem} x{m.count}, e.g. {m.example}"
                  + (f" ({m.detail})" if m.detail else "") for m in self.mismatches]
        lines += [f"  platform object {e.kind}/{e.namespace}/{e.name}: flagged by {', '.join(e.flagged_by) or 'none'}"
                  + (f", blocked by {', '.join(e.blocked_by)}" if e.blocked_by else "")
                  + (f"; SR2 denies it ({e.oracle_reason})" if e.oracle_reason else "") for e in self.extras_flagged]
        return "\n".join(lines)


class Tally:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], list[Any]] = {}

    def add(self, rendering: str, engine: str, problem: str, adm: Admission, detail: str = "") -> None:
        key = (rendering, engine, problem)
        if key in self.items:
            self.items[key][0] += 1
        else:
            self.items[key] = [1, adm.description, adm.obj, detail]

    def mismatches(self) -> tuple[Mismatch, ...]:
        return tuple(Mismatch(r, e, p, c, ex, obj, d) for (r, e, p), (c, ex, obj, d) in self.items.items())
