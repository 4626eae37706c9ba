"""Relative links in README.md and docs/**/*.md point at files that exist (anchors are not checked)."""

from __future__ import annotations

import re

from tests.docs.blocks import ROOT, doc_files

_LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)")


def broken_links(text: str, base) -> list[str]:
    return [m["target"] for m in _LINK.finditer(text)
            if not re.match(r"[a-z]+:", m["target"]) and not (base / m["target"]).exists()]


def test_the_link_checker_reports_a_missing_file(tmp_path):
    (tmp_path / "there.md").write_text("x")
    assert broken_links("[a](there.md) [b](gone.md#x) [c](https://example.com)", tmp_path) == ["gone.md"]


def test_relative_links_resolve():
    found = [f"{p.relative_to(ROOT)}: {t}" for p in doc_files() for t in broken_links(p.read_text(), p.parent)]
    assert found == []
