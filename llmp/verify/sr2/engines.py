"""The two CEL engines behind one small interface: compile once, build an activation, run.

Neither engine has Kubernetes' `quantity()` or library extensions, so the rendered CEL must stay
portable; an expression that does not compile on an engine is a structural problem of the proof.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from typing import Any

ERROR = "error"
Outcome = bool | str
"""True / False, or a string starting with "error" (runtime error or non-boolean result)."""

_DECLARED = ("object", "oldObject", "namespaceObject", "request", "params")


class CppEngine:
    """cel-expr-python: compile once (type-checked, every variable `dyn`), evaluate many.

    Loaded with the optional-types and strings extensions, which Kubernetes' CEL environment also
    has, so an expression using them compiles here and is then caught by cel-python (portability).
    """

    name = "cel-expr-python"

    def __init__(self) -> None:
        from cel_expr_python import cel
        from cel_expr_python.ext import ext_optional, ext_strings

        self._cel = cel
        self._env = cel.NewEnv(variables={n: cel.Type.DYN for n in _DECLARED},
                               extensions=[ext_optional.ExtOptional(), ext_strings.ExtStrings()])

    def compile(self, text: str) -> Any:
        return self._env.compile(text)

    def activation(self, data: Mapping[str, Any]) -> Any:
        return self._env.Activation(dict(data))

    def run(self, program: Any, activation: Any) -> Outcome:
        value = program.eval(activation)
        if value.type() == self._cel.Type.BOOL:
            return bool(value.value())
        if value.type() == self._cel.Type.ERROR:
            return f"{ERROR}: {value.value()}"
        return f"{ERROR}: non-boolean result of type {value.type().name()}"


class PyEngine:
    """cel-python (`celpy`): a pure-Python interpreter; slow, so it checks a sample."""

    name = "cel-python"

    def __init__(self) -> None:
        import celpy

        self._celpy = celpy
        self._env = celpy.Environment()

    def compile(self, text: str) -> Any:
        return self._env.program(self._env.compile(text))

    def activation(self, data: Mapping[str, Any]) -> Any:
        return {k: self._celpy.json_to_cel(v) for k, v in data.items()}

    def run(self, program: Any, activation: Any) -> Outcome:
        try:
            value = program.evaluate(activation)
        except Exception as exc:  # celpy raises CELEvalError (and occasionally plain Python errors)
            return f"{ERROR}: {type(exc).__name__}: {exc}"
        if isinstance(value, Exception):
            return f"{ERROR}: {type(value).__name__}: {value}"
        if isinstance(value, bool) or type(value).__name__ == "BoolType":
            return bool(value)
        return f"{ERROR}: non-boolean result {value!r}"


def engine_version(dist: str) -> str:
    """The installed version of distribution `dist`, or "not installed"."""
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:  # pragma: no cover - installed with the project
        return "not installed"
