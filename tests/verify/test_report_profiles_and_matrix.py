"""report.md says what was proved on the stack's profile, and its connectivity picture does not mislead:
a legend, self-paths computed from two pods of a role, and services the plan does not deploy drawn apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.patches import Rectangle

from llmp.plan.render import load_manifests
from llmp.verify.matrix import NOT_DEPLOYED, connectivity_matrix, matrix_figure
from llmp.verify.report import print_report, write_report
from llmp.verify.run import DORMANT, FAIL, PASS, Proof, VerifyReport, prove_budgets

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def objects(planned) -> dict[str, list[dict]]:
    return {stack: load_manifests(planned(stack) / "manifests") for stack in ("dev", "prod")}


def report_md(tmp_path: Path, profile: str, *proofs: Proof) -> str:
    write_report(VerifyReport(stack=profile, profile=profile, trust_tier="multi-team", proofs=list(proofs)), tmp_path)
    return (tmp_path / "report.md").read_text()


def fail_open(objects: list[dict]) -> list[dict]:
    out = []
    for obj in objects:
        if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"] == "litellm-config":
            text = obj["data"]["config.yaml"]
            assert "allow_requests_on_db_unavailable: false" in text
            obj = {**obj, "data": {**obj["data"], "config.yaml": text.replace(
                "allow_requests_on_db_unavailable: false", "allow_requests_on_db_unavailable: true")}}
        out.append(obj)
    return out


def test_on_dev_the_sr3_row_says_budgets_fail_open_by_design_and_is_dormant(objects, tmp_path):
    proof = prove_budgets(objects["dev"], "dev", ROOT)
    assert not proof.problems, "the dev checks themselves hold"
    assert (proof.title, proof.status) == ("SR3 budgets: dev fails open (documented)", DORMANT)
    md = report_md(tmp_path, "dev", proof)
    assert "| SR3 budgets: dev fails open (documented) | dormant (not enforced) | dev fails open (documented): " in md
    assert "## SR3 budgets: dev fails open (documented)" in md
    assert "fail closed" not in md and "| PASS |" not in md


def test_on_prod_the_sr3_row_still_claims_and_proves_fail_closed(objects, tmp_path):
    proof = prove_budgets(objects["prod"], "prod", ROOT)
    assert (proof.title, proof.status) == ("SR3 budgets fail closed", PASS)
    assert "| SR3 budgets fail closed | PASS | prod fails closed: " in report_md(tmp_path, "prod", proof)


def test_prod_without_its_fail_closed_settings_still_fails(objects, tmp_path):
    proof = prove_budgets(fail_open(objects["prod"]), "prod", ROOT)
    assert (proof.title, proof.status) == ("SR3 budgets fail closed", FAIL)
    md = report_md(tmp_path, "prod", proof)
    assert "| SR3 budgets fail closed | **FAIL** |" in md and "Overall: **FAIL**" in md


def without_redis(objects: list[dict]) -> list[dict]:
    """dev's objects with the LiteLLM Deployment at 2 replicas: several replicas need Redis, dev has none."""
    out = []
    for obj in objects:
        if obj.get("kind") == "Deployment" and obj["metadata"]["name"] == "litellm":
            obj = {**obj, "spec": {**obj["spec"], "replicas": 2}}
        out.append(obj)
    return out


def test_a_failure_off_prod_is_not_turned_into_dormant(objects, tmp_path):
    proof = prove_budgets(without_redis(objects["dev"]), "dev", ROOT)
    assert (proof.title, proof.status) == ("SR3 budgets: dev fails open (documented)", FAIL), proof.problems
    assert "| SR3 budgets: dev fails open (documented) | **FAIL** |" in report_md(tmp_path, "dev", proof)


def test_the_terminal_table_shows_the_same_title(objects):
    from io import StringIO

    from rich.console import Console

    buffer = StringIO()
    proof = prove_budgets(objects["dev"], "dev", ROOT)
    print_report(VerifyReport("dev", "dev", "trusted", [proof]), Console(file=buffer, width=300))
    assert "SR3 budgets: dev fails open (documented)" in buffer.getvalue() and "DORMANT" in buffer.getvalue()
    assert "PASS" not in buffer.getvalue()


@pytest.fixture(scope="module")
def matrices(objects):
    return {stack: connectivity_matrix(objects[stack]) for stack in ("dev", "prod")}


def test_a_role_reaching_its_own_kind_is_computed_not_drawn_denied(matrices):
    prod = matrices["prod"]
    # CNPG replicas stream from the primary: the rendered policy allows budget-db -> budget-db on 5432.
    assert "5432" in prod.cells[("llm-tenant-gateway/budget-db", "Postgres")].split(",")
    # LiteLLM replicas do not talk to each other: computed, and denied.
    assert ("llm-tenant-gateway/tenant-gateway", "LiteLLM") not in prod.cells
    assert prod.not_deployed == frozenset()


def test_a_service_the_plan_does_not_deploy_is_marked_not_deployed(matrices):
    assert matrices["dev"].not_deployed == frozenset({"Redis"}), "dev runs one LiteLLM replica without Redis"
    assert not any(dst == "Redis" for _, dst in matrices["dev"].cells)


def test_the_picture_has_a_legend_and_hatches_the_not_deployed_column(matrices):
    import matplotlib.pyplot as plt

    matrix = matrices["dev"]
    fig = matrix_figure(matrix, "dev")
    try:
        (ax,) = fig.axes
        legend = ax.get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == ["allowed (ports)", "allowed, every port", "denied",
                                                            "not deployed"]
        hatched = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch()]
        column = matrix.destinations.index("Redis")
        assert len(hatched) == len(matrix.sources) and {p.get_x() for p in hatched} == {column}
        assert all(p.get_facecolor()[:3] == (1.0, 1.0, 1.0) for p in hatched) and NOT_DEPLOYED == "white"
        assert "Redis\n(not deployed)" in [t.get_text() for t in ax.get_xticklabels()]
    finally:
        plt.close(fig)
