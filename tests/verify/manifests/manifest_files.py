"""Writing small manifest files for the validator tests."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_manifests(folder: Path, name: str, *docs: str) -> Path:
    """Write `docs` (dedented YAML documents) as one multi-document file `folder/name`; return `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("---\n".join(textwrap.dedent(d) for d in docs))
    return folder
