"""Chart sources (llmp/charts/sources.py), the plan's behaviour without them, and the control-plane
ports file derived from the rendered charts (llmp/charts/ports.py)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import yaml

from llmp.charts import sources
from llmp.charts.ports import document, ports_by_release
from llmp.charts.sources import ChartRef, ChartSourceError, locate, missing_message
from llmplatform.serving.control_plane import PORTS_FILE, control_plane_ports

ROOT = Path(__file__).resolve().parents[2]
REF = ChartRef(chart="kueue", version="0.19.2", repo="oci://example.invalid/charts", release="serving-kueue")


@pytest.fixture
def no_sources(tmp_path, monkeypatch) -> Path:
    """No chart anywhere: an empty LLMP_CHARTS, an empty cache, and no sibling shared/charts."""
    empty = tmp_path / "charts"
    empty.mkdir()
    monkeypatch.setenv(sources.ENV_CHARTS, str(empty))
    monkeypatch.setenv(sources.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "sibling_shared_charts", lambda: tmp_path / "no-shared" / "charts")
    return empty


def write_chart(folder: Path, name: str, version: str) -> Path:
    chart = folder / f"{name}-{version}"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}))
    return chart


def test_a_missing_chart_says_where_it_looked_and_the_three_ways_to_provide_it(no_sources) -> None:
    with pytest.raises(ChartSourceError) as err:
        locate(REF)
    message = str(err.value)
    assert "kueue 0.19.2" in message and "kueue-0.19.2.tgz" in message and str(no_sources) in message
    assert "llmp charts pull" in message and sources.ENV_CHARTS in message and "shared/charts/" in message
    assert message == missing_message(REF)


def test_a_chart_folder_or_archive_in_llmp_charts_is_found(no_sources) -> None:
    chart = write_chart(no_sources, "kueue", "0.19.2")
    assert locate(REF) == chart.resolve()
    archive = no_sources.parent / "cache" / "kueue-0.19.2.tgz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(chart, arcname="kueue")
    (chart / "Chart.yaml").unlink()
    chart.rmdir()
    assert locate(REF) == archive.resolve()


def test_a_source_holding_another_chart_or_version_is_refused_by_name(no_sources) -> None:
    wrong = write_chart(no_sources / "x", "keda", "0.19.2")
    wrong.rename(no_sources / "kueue-0.19.2")
    with pytest.raises(ChartSourceError, match="holds chart 'keda', not 'kueue'"):
        locate(REF)
    staged = no_sources.parent / "stage"
    write_chart(staged, "kueue", "0.18.0")
    (no_sources / "kueue-0.19.2" / "Chart.yaml").unlink()
    (no_sources / "kueue-0.19.2").rmdir()
    with tarfile.open(no_sources / "kueue-0.19.2.tgz", "w:gz") as tar:
        tar.add(staged / "kueue-0.18.0", arcname="kueue")
    with pytest.raises(ChartSourceError, match="version 0.18.0, not the pinned 0.19.2"):
        locate(REF)


def test_the_plan_without_chart_sources_says_so_and_fails_only_under_ci(no_sources, planned, tmp_path,
                                                                        monkeypatch, capsys) -> None:
    """What `llmp plan` does after writing plan.json when no chart source exists (its `_render_charts`)."""
    import typer

    from llmp import cli

    plan = planned("dev") / "plan.json"
    monkeypatch.setenv("CI", "false")
    (tmp_path / "local").mkdir()
    (tmp_path / "ci").mkdir()
    index = cli._render_charts(plan, tmp_path / "local")
    assert index.releases and len(index.missing) == len(index.releases)
    said = capsys.readouterr().err
    assert "chart not rendered" in said and "llmp charts pull" in said
    written = json.loads((tmp_path / "local" / "charts.json").read_text())
    assert all(r["status"] == "missing" and r["reason"] for r in written["releases"])
    monkeypatch.setenv("CI", "true")
    with pytest.raises(typer.Exit) as exit_:
        cli._render_charts(plan, tmp_path / "ci")
    assert exit_.value.exit_code == 3
    assert "CI=true: every chart must be rendered" in capsys.readouterr().err


def test_the_control_plane_ports_file_is_what_the_rendered_charts_need(planned) -> None:
    """The file the GKE firewall reads equals the ports derived from every stack's rendered charts now;
    regenerate it with `python -m llmp.charts.ports --write` when a chart or its values change."""
    from tests.support.gates import require_rendered_charts

    merged: dict[str, set[int]] = {}
    for stack in ("dev", "prod", "vast"):
        require_rendered_charts(planned(stack))
        for release, ports in ports_by_release(planned(stack)).items():
            merged.setdefault(release, set()).update(ports)
    derived = {release: sorted(ports) for release, ports in sorted(merged.items())}
    assert PORTS_FILE.read_text() == document(derived), "run `python -m llmp.charts.ports --write`"
    assert {9443, 15017} <= set(control_plane_ports())
    assert not {443, 10250} & set(control_plane_ports()), "GKE opens these itself"
