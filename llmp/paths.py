"""Where the tools find the project they work on: the checkout that holds `Pulumi.yaml`, `policy/` and,
beside it, `shared/` (CRD schemas, chart sources). One definition, so moving a tool module never
changes what it reads."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The project checkout this `llmp` package was imported from (an editable install or a clone)."""
