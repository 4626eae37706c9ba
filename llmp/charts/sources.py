"""Where the source of a pinned chart is found, offline.

A chart source is a chart directory or a packaged `.tgz`, named `<chart>-<version>` (the name `helm pull`
gives an archive) or `<release>-<version>`. Folders are searched in this order:

1. every folder in `LLMP_CHARTS` (separated by `os.pathsep`);
2. the pull cache, where `llmp charts pull` puts archives (`LLMP_CHARTS_CACHE`, default
   `~/.cache/llmp/charts`);
3. a `shared/charts/` folder beside the project checkout (how the project's own machines provide them).

A chart found by name is checked against the pin: its `Chart.yaml` must name the same chart. A directory
checked out from a chart's git repository may carry a placeholder version (Istio's charts say `1.0.0` in
git; release packaging sets the real one), so a directory's version is taken from its folder name; an
archive's `Chart.yaml` version must equal the pin.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from llmp.paths import PROJECT_ROOT

ENV_CHARTS = "LLMP_CHARTS"
ENV_CACHE = "LLMP_CHARTS_CACHE"


class ChartSourceError(LookupError):
    """A pinned chart's source is missing or is not the pinned chart; the message says how to provide it."""


@dataclass(frozen=True)
class ChartRef:
    """A chart as a `helm.v3.Release` names it."""

    chart: str
    """`name` for a repository chart, or the full `oci://host/path/name` reference."""
    version: str
    repo: str | None = None
    release: str = ""
    """The release name (a second folder name a source may use)."""

    @property
    def name(self) -> str:
        """The chart's own name: the last path segment of an OCI reference."""
        return self.chart.rstrip("/").rsplit("/", 1)[-1]

    def describe(self) -> str:
        where = self.chart if self.chart.startswith("oci://") else f"{self.chart} from {self.repo}"
        return f"{where} version {self.version}"


def cache_dir() -> Path:
    """Where `llmp charts pull` stores archives."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser().resolve()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return (base / "llmplatform" / "charts").resolve()


def sibling_shared_charts() -> Path:
    return (PROJECT_ROOT.parent / "shared" / "charts").resolve()


def search_dirs() -> list[Path]:
    """The folders searched, in order (those that do not exist are kept: a message lists them)."""
    dirs = [Path(p).expanduser().resolve() for p in os.environ.get(ENV_CHARTS, "").split(os.pathsep) if p]
    return [*dirs, cache_dir(), sibling_shared_charts()]


def _candidates(ref: ChartRef) -> list[str]:
    stems = [f"{ref.name}-{ref.version}"]
    if ref.release and ref.release != ref.name:
        stems.append(f"{ref.release}-{ref.version}")
    return [f for stem in stems for f in (stem, f"{stem}.tgz")]


def _chart_yaml(path: Path) -> dict:
    if path.is_dir():
        return yaml.safe_load((path / "Chart.yaml").read_text()) or {}
    with tarfile.open(path) as archive:
        member = next((m for m in archive.getmembers()
                       if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml")), None)
        if member is None:
            raise ChartSourceError(f"{path} is not a packaged chart: no <chart>/Chart.yaml inside")
        data = archive.extractfile(member)
        return yaml.safe_load(data.read()) if data else {}


def locate(ref: ChartRef) -> Path:
    """The source of `ref`: a chart directory or archive. Raises ChartSourceError saying how to provide it."""
    for folder in search_dirs():
        for candidate in _candidates(ref):
            path = folder / candidate
            if not (path.is_dir() and (path / "Chart.yaml").is_file()) and not path.is_file():
                continue
            meta = _chart_yaml(path)
            if meta.get("name") != ref.name:
                raise ChartSourceError(f"{path} holds chart {meta.get('name')!r}, not {ref.name!r} "
                                       f"({ref.describe()}); remove or rename it")
            if path.is_file() and str(meta.get("version")) != ref.version:
                raise ChartSourceError(f"{path} is {ref.name} version {meta.get('version')}, not the pinned "
                                       f"{ref.version}; run `llmp charts pull` again")
            return path
    raise ChartSourceError(missing_message(ref))


def missing_message(ref: ChartRef) -> str:
    names = " or ".join(_candidates(ref))
    searched = ", ".join(str(d) for d in search_dirs())
    return (f"chart {ref.name} {ref.version} ({ref.describe()}) was not found as {names} in: {searched}. "
            "Provide it one of three ways: `llmp charts pull` (downloads every pinned chart into the cache; "
            f"needs network), {ENV_CHARTS}=<folder holding {ref.name}-{ref.version}/ or .tgz>, or a "
            f"`shared/charts/` folder beside the project checkout ({sibling_shared_charts()}) holding the same.")
