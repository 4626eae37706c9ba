"""Render every Helm release a plan records and write its objects beside the program's own manifests.

Layout under `build/<stack>/`:
- `manifests/charts/<release>/<namespace or _cluster>.yaml`: the release's objects (CRDs included);
- `charts.json`: one entry per release in plan.json: rendered (source, object counts, hooks an install
  skips, repeated keys) or missing (why, and how to provide the chart).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmp.charts.render import (
    RELEASE_TYPE,
    ChartRenderError,
    ReleaseSpec,
    render_release,
    stable_json,
    summary,
)
from llmp.charts.sources import ChartSourceError, locate

CHARTS_DIR = "charts"
INDEX_FILE = "charts.json"


@dataclass
class ChartsIndex:
    releases: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)
    """Release -> the full message for a missing chart (where it was searched, how to provide it); not in
    charts.json, whose `reason` stays the same wherever the plan runs, so two plans stay byte-identical."""

    @property
    def missing(self) -> list[dict[str, Any]]:
        return [r for r in self.releases if r["status"] != "rendered"]

    @property
    def rendered(self) -> list[dict[str, Any]]:
        return [r for r in self.releases if r["status"] == "rendered"]

    def as_json(self) -> dict[str, Any]:
        return {"releases": self.releases}


def release_specs(plan: dict[str, Any]) -> list[ReleaseSpec]:
    """Every `helm.v3.Release` in a plan document, in URN order."""
    return [ReleaseSpec.from_plan(r) for r in plan["resources"] if r["type"] == RELEASE_TYPE]


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    obj = _sorted(obj)
    head = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
    return head | {k: v for k, v in obj.items() if k not in head}


def _dump(docs: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=120, explicit_start=True)


def write_release(objects: list[dict[str, Any]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    by_ns: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_ns.setdefault((obj.get("metadata") or {}).get("namespace") or "_cluster", []).append(_ordered(obj))
    for ns, docs in sorted(by_ns.items()):
        docs.sort(key=lambda o: (o["kind"], o["metadata"].get("name", "")))
        (folder / f"{ns}.yaml").write_text(_dump(docs))


def write_charts(plan: dict[str, Any], build_dir: Path) -> ChartsIndex:
    """Render every release of `plan` into `build_dir/manifests/charts/` and write `build_dir/charts.json`.

    A chart whose source cannot be found is recorded as missing (never a silent zero objects); a chart the
    Helm engine refuses raises ChartRenderError, since that release would fail to install too.
    """
    out = build_dir / "manifests" / CHARTS_DIR
    if out.exists():
        shutil.rmtree(out)
    index = ChartsIndex()
    for spec in release_specs(plan):
        entry = {"release": spec.name, "namespace": spec.namespace, "urn": spec.urn, "chart": spec.ref.name,
                 "version": spec.ref.version, "repository": spec.ref.repo or spec.ref.chart}
        try:
            source = locate(spec.ref)
        except ChartSourceError as exc:
            index.releases.append(entry | {"status": "missing", "reason": f"no source for chart {spec.ref.describe()} "
                                                                    "in the chart search folders (llmp charts list)"})
            index.messages[spec.name] = str(exc)
            continue
        rendered = render_release(spec, source)
        write_release(rendered.all_objects, out / spec.name)
        index.releases.append(summary(rendered))
    (build_dir / INDEX_FILE).write_text(stable_json(index.as_json()))
    return index


def read_index(build_dir: Path) -> ChartsIndex | None:
    """The `charts.json` of a build folder, or None when the plan predates chart rendering."""
    path = build_dir / INDEX_FILE
    return ChartsIndex(json.loads(path.read_text())["releases"]) if path.exists() else None


__all__ = ["CHARTS_DIR", "INDEX_FILE", "ChartRenderError", "ChartsIndex", "read_index", "release_specs",
           "write_charts"]
