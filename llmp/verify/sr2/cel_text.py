"""CEL source handling: string literals, and inlining `variables.<name>` into an expression."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")
_VAR_REF = re.compile(r"variables\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")


def _string_end(text: str, start: int) -> int:
    """Index just past the CEL string literal whose opening quote is at `start`."""
    raw = start > 0 and text[start - 1] in "rR" and (start < 2 or not _IDENT_CHAR.match(text[start - 2]))
    quote = text[start]
    triple = text.startswith(quote * 3, start)
    delim = quote * 3 if triple else quote
    i = start + len(delim)
    while i < len(text):
        if not raw and text[i] == "\\":
            i += 2
            continue
        if text.startswith(delim, i):
            return i + len(delim)
        if not triple and text[i] == "\n":
            break
        i += 1
    return len(text)


def _segments(text: str) -> Iterator[tuple[bool, str]]:
    """Split CEL source into (is_string_literal, chunk) pieces."""
    i = last = 0
    while i < len(text):
        if text[i] in "'\"":
            if i > last:
                yield False, text[last:i]
            end = _string_end(text, i)
            yield True, text[i:end]
            i = last = end
        else:
            i += 1
    if last < len(text):
        yield False, text[last:]


def string_literals(text: str) -> list[str]:
    """The contents of the simple string literals in a CEL expression (escapes left as written)."""
    out = []
    for is_str, chunk in _segments(text):
        if is_str:
            body = chunk.lstrip("rRbB")
            q = 3 if body[:3] in ("'''", '"""') else 1
            out.append(body[q:-q] if len(body) >= 2 * q else "")
    return out


def inline_variables(variables: Sequence[tuple[str, str]], expression: str) -> str:
    """`expression` with each `variables.<name>` replaced by that variable's (inlined) text.

    A variable may read only variables declared before it, as in Kubernetes; any other reference is
    left as written and then fails to compile (`variables` is not declared to the engines).
    """
    done: dict[str, str] = {}

    def substitute(text: str) -> str:
        out = []
        for is_str, chunk in _segments(text):
            if is_str:
                out.append(chunk)
                continue

            def repl(m: re.Match) -> str:
                before = chunk[m.start() - 1] if m.start() > 0 else ""
                if before and (_IDENT_CHAR.match(before) or before == "."):
                    return m.group(0)
                name = m.group(1)
                return f"({done[name]})" if name in done else m.group(0)

            out.append(_VAR_REF.sub(repl, chunk))
        return "".join(out)

    for name, text in variables:
        done[name] = substitute(text)
    return substitute(expression)
