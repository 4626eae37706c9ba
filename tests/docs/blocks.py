"""Code blocks of the README and docs/, and the commands inside them, as plain data.

Marking convention: a fenced block whose info string carries the word `runnable` after the language
(```` ```sh runnable ````) runs as written in the repository, without credentials; tests/docs runs it.
Every other shell block is documentation for a machine with the Pulumi CLI, cloud credentials or a
cluster, and says so next to it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGS = frozenset({"sh", "bash", "shell", "console"})
RUNNABLE = "runnable"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_HEREDOC = re.compile(r"<<-?\s*['\"]?(?P<tag>[A-Za-z_][A-Za-z0-9_]*)['\"]?")
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")", "$(", "<(", ">("})


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    """1-based line of the opening fence."""
    lang: str
    flags: tuple[str, ...]
    body: str

    @property
    def runnable(self) -> bool:
        return RUNNABLE in self.flags

    @property
    def is_shell(self) -> bool:
        return self.lang in SHELL_LANGS

    @property
    def where(self) -> str:
        rel = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{rel}:{self.line}"


def code_blocks(text: str, path: Path = ROOT / "<text>") -> list[Block]:
    """Every fenced block in `text` (indented fences inside list items included), in order."""
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent, words = m["fence"], len(m["indent"]), m["info"].split()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        out.append(Block(path=path, line=i + 1, lang=words[0] if words else "", flags=tuple(words[1:]),
                         body="\n".join(body) + "\n"))
        i = j + 1
    return out


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def all_blocks(root: Path = ROOT) -> list[Block]:
    return [b for p in doc_files(root) for b in code_blocks(p.read_text(encoding="utf-8"), p)]


def logical_lines(script: str) -> list[str]:
    """Shell lines with continuations joined, comments and here-document bodies removed."""
    out: list[str] = []
    pending = ""
    heredoc: str | None = None
    for raw in script.splitlines():
        if heredoc is not None:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        line = pending + raw
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        if not _quotes_closed(line):
            pending = line + "\n"  # a quoted argument (a jq program) spans lines
            continue
        pending = ""
        m = _HEREDOC.search(line)
        if m:
            heredoc = m["tag"]
            line = line[: m.start()]
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(line)
    return out


def _quotes_closed(line: str) -> bool:
    try:
        shlex.split(line, comments=True)
    except ValueError:
        return False
    return True


def commands(script: str) -> list[list[str]]:
    """Each simple command (words after leading VAR=value assignments) in a shell script.

    A `$( ... )` or `<( ... )` substitution is its own command; the command around it continues
    after the closing parenthesis.
    """
    out: list[list[str]] = []
    for line in logical_lines(script):
        lexer = shlex.shlex(line.replace("$(", " ( ").replace("<(", " ( "), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        outer: list[list[str]] = []
        skip_next = False
        for token in lexer:
            if set(token) <= set("&|;()"):
                for ch in token:
                    if ch == "(":
                        outer.append(current)
                        current = []
                    elif ch == ")":
                        if current:
                            out.append(current)
                        current = outer.pop() if outer else []
                if not set(token) & set("()"):
                    if current:
                        out.append(current)
                    current = []
                continue
            if skip_next:
                skip_next = False
                continue
            if set(token) <= set("<>&0123456789") and set(token) & set("<>"):
                skip_next = True  # a redirection and its target are not arguments
                continue
            if not current and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", token):
                continue
            current.append(token)
        for pending in [current, *reversed(outer)]:
            if pending:
                out.append(pending)
    return out
