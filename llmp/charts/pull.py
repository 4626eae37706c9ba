"""Pull pinned charts into the cache `sources.locate` searches (machines with network access only)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from llmp.charts.sources import ChartRef, ChartSourceError, cache_dir, locate


def pull_one(ref: ChartRef) -> str:
    """Download `ref` into the cache as `<chart>-<version>.tgz`; return where it landed."""
    import helm_python as helm

    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    if ref.chart.startswith("oci://"):
        result = helm.pull(ref.chart, version=ref.version, destination=target)
    else:
        result = helm.pull(ref.chart, repo_url=ref.repo, version=ref.version, destination=target)
    return str(result.get("output") or target)


def pull_missing(refs: Iterable[ChartRef]) -> Iterator[tuple[ChartRef, str]]:
    """Pull each chart no search folder holds yet; yield (chart, what happened)."""
    for ref in refs:
        try:
            yield ref, f"present at {locate(ref)}"
            continue
        except ChartSourceError:
            pass
        try:
            pull_one(ref)
            yield ref, f"pulled into {locate(ref)}"
        except Exception as exc:  # noqa: BLE001 - Helm's registry and repository errors, reported per chart
            yield ref, f"failed: {exc}"
