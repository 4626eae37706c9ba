"""Skip-or-fail gates for tests that need something outside the repository.

On a user's machine a missing prerequisite (PostgreSQL, Redis, `../shared/crd-schemas`) skips the
test with a reason that says how to get it. Under `CI=true` the same gap fails the test, so CI can
never go green by skipping the proofs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    """True when the run is CI (`CI=true`), where missing prerequisites are failures."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip (user machine) or fail (CI) the calling test unless `condition` holds."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true and a prerequisite is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def shared_dir() -> Path:
    """The `shared/` folder beside the checkout (override with `LLMP_SHARED`)."""
    return Path(os.environ.get("LLMP_SHARED", REPO_ROOT.parent / "shared")).resolve()


def crd_schema_dir() -> Path:
    """Stored upstream CRD schemas (`llmp.verify.manifests.crd.crd_schema_dir`)."""
    from llmp.verify.manifests.crd import crd_schema_dir as stored

    return stored()


def require_crd_schemas() -> Path:
    """Return the CRD schema folder, or skip/fail with how to get it."""
    path = crd_schema_dir()
    require(
        (path / "kueue.x-k8s.io").is_dir(),
        f"stored upstream CRD schemas not found at {path}: set LLMP_CRD_SCHEMAS to a folder laid out as "
        "<group>/<kind-lowercase>_<version>.json, each file the openAPIV3Schema of one CRD version "
        "(docs/verify.md, 'CRD schemas')",
    )
    return path


def require_rendered_charts(build_dir: Path) -> None:
    """Skip (user machine) or fail (CI) unless `llmp plan` rendered every Helm release into `build_dir`."""
    import json

    index = build_dir / "charts.json"
    missing = [r["release"] for r in json.loads(index.read_text())["releases"] if r["status"] != "rendered"] \
        if index.is_file() else ["(no charts.json)"]
    require(not missing, f"Helm charts not rendered ({', '.join(missing)}): provide the pinned chart sources "
                         "(`llmp charts pull`, LLMP_CHARTS=<folder>, or shared/charts beside the checkout; "
                         "`llmp charts list` shows what is searched)")
