"""The platform's accepted checkov exceptions: one registry, applied by one helper, documented in one table.

Pure tests (no checkov run): `tests/verify/test_verify_planted.py` runs checkov on the rendered plans.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmp.verify.manifests import Checker, Finding
from llmp.verify.manifests.checkov_scan import CheckovReport, SkippedCheck
from llmp.verify.manifests.checkov_accept import accept_for_charts, accept_for_tier
from llmplatform.k8s import checkov_skips
from llmplatform.k8s.checkov_skips import CHART_ACCEPTED

DOCS = Path(__file__).resolve().parents[3] / "docs" / "verify.md"
OWN_REASONS = [*checkov_skips.ACCEPTED.items(),
               *((c, r) for tier in checkov_skips.TIER_ACCEPTED.values() for c, r in tier.items())]
"""Object and tier skips: one docs row per check id."""
ALL_REASONS = [*OWN_REASONS, *((c, r) for chart in CHART_ACCEPTED.values() for c, r in chart.items())]
CHART_PAIRS = [(release, check) for release, checks in CHART_ACCEPTED.items() for check in checks]


def _skip(oid: str, check: str, reason: str, scope: str = "annotation") -> SkippedCheck:
    return SkippedCheck(object_id=oid, check_id=check, check_name="t", reason=reason, scope=scope)


def _finding(oid: str, rule: str, message: str = "Minimize the admission of pods", source: str = "a.yaml#0") -> Finding:
    return Finding(source=source, object_id=oid, message=message, checker=Checker.CHECKOV, rule=rule)


def _report(findings=(), skipped=(), unused=(), manifests_dir: Path = Path(".")) -> CheckovReport:
    return CheckovReport(manifests_dir=manifests_dir, findings=tuple(findings), skipped=tuple(skipped),
                         unused_skips=tuple(unused))


def _rendered(tmp_path: Path, *releases: str) -> Path:
    for release in releases:
        (tmp_path / "charts" / release).mkdir(parents=True)
    return tmp_path


def _all_used_but(release: str, check: str) -> list[Finding]:
    """One finding for every registered check of `release` except `check` (so only `check` is unused)."""
    return [_finding(f"Deployment/ns/{release}", c, source=f"charts/{release}/ns.yaml#0")
            for c in CHART_ACCEPTED[release] if c != check]


@pytest.mark.parametrize(("check_id", "reason"), ALL_REASONS)
def test_every_reason_is_safe_for_checkov_and_markdown(check_id: str, reason: str) -> None:
    assert re.fullmatch(r"CKV2?_K8S_\d+", check_id)
    assert "=" not in reason and "|" not in reason and len(reason) > 40


def test_annotations_number_the_skips_and_carry_the_registered_reason() -> None:
    out = checkov_skips.annotations("CKV_K8S_11", "CKV_K8S_35")
    assert out == {"checkov.io/skip1": f"CKV_K8S_11={checkov_skips.ACCEPTED['CKV_K8S_11']}",
                   "checkov.io/skip2": f"CKV_K8S_35={checkov_skips.ACCEPTED['CKV_K8S_35']}"}


def test_an_unregistered_or_repeated_check_cannot_be_annotated() -> None:
    with pytest.raises(KeyError, match="CKV_K8S_16"):
        checkov_skips.annotations("CKV_K8S_16")
    with pytest.raises(ValueError, match="repeated"):
        checkov_skips.annotations("CKV_K8S_11", "CKV_K8S_11")


def test_a_tier_accepted_finding_becomes_a_skip_for_each_object_on_that_tier_only() -> None:
    findings = [_finding("Deployment/ns/a", "CKV2_K8S_6"), _finding("Deployment/ns/b", "CKV2_K8S_6"),
                _finding("Deployment/ns/a", "CKV_K8S_16", "Container should not be privileged")]
    trusted = accept_for_tier(_report(findings), "trusted")
    assert [f.rule for f in trusted.findings] == ["CKV_K8S_16"]
    assert {(s.object_id, s.check_id, s.scope) for s in trusted.skipped} == {
        ("Deployment/ns/a", "CKV2_K8S_6", "tier:trusted"), ("Deployment/ns/b", "CKV2_K8S_6", "tier:trusted")}
    assert all(s.reason == checkov_skips.TIER_ACCEPTED["trusted"]["CKV2_K8S_6"] for s in trusted.skipped)
    multi = accept_for_tier(_report(findings), "multi-team")
    assert sorted(f.rule for f in multi.findings) == ["CKV2_K8S_6", "CKV2_K8S_6", "CKV_K8S_16"]
    assert not multi.skipped


def test_a_skip_with_an_unregistered_reason_or_that_skips_nothing_is_a_finding() -> None:
    registered = _skip("Deployment/ns/a", "CKV_K8S_11", checkov_skips.ACCEPTED["CKV_K8S_11"])
    handwritten = _skip("Deployment/ns/b", "CKV_K8S_43", "images are fine")
    stale = _skip("Deployment/ns/c", "CKV_K8S_38", checkov_skips.ACCEPTED["CKV_K8S_38"])
    out = accept_for_tier(_report(skipped=[registered, handwritten], unused=[stale]), "multi-team")
    assert {(f.object_id, f.rule) for f in out.findings} == {("Deployment/ns/b", "skip-unregistered"),
                                                            ("Deployment/ns/c", "skip-unused")}
    assert set(out.skipped) == {registered, handwritten}


@pytest.mark.parametrize(("check_id", "reason"), OWN_REASONS)
def test_docs_verify_md_lists_each_exception_with_its_exact_reason(check_id: str, reason: str) -> None:
    rows = [line for line in DOCS.read_text().splitlines() if line.startswith(f"| {check_id} |")]
    assert len(rows) == 1, f"docs/verify.md needs exactly one table row for {check_id}"
    assert rows[0].rstrip().endswith(f"| {reason} |")


def test_a_registered_check_on_a_chart_object_is_accepted_with_its_reason_and_scope(tmp_path) -> None:
    planted = _finding("Deployment/keda/keda-operator", "CKV_K8S_38", "Ensure that Service Account Tokens are only "
                       "mounted where necessary", source="charts/keda/keda.yaml#1")
    out = accept_for_charts(_report([planted, *_all_used_but("keda", "CKV_K8S_38")],
                                    manifests_dir=_rendered(tmp_path, "keda")))
    assert not out.findings
    skip = next(s for s in out.skipped if s.object_id == "Deployment/keda/keda-operator")
    assert (skip.check_id, skip.scope, skip.reason, skip.source) == (
        "CKV_K8S_38", "chart:keda", CHART_ACCEPTED["keda"]["CKV_K8S_38"], "charts/keda/keda.yaml#1")
    assert skip.check_name == "Ensure that Service Account Tokens are only mounted where necessary"


def test_the_same_check_on_the_programs_own_object_is_not_accepted_by_the_chart_registry() -> None:
    own = _finding("Deployment/llm-serving/qwen-epp", "CKV_K8S_38", source="llm-serving.yaml#3")
    # A file merely named like a release, or a chart folder deeper in the tree, is not that release's output.
    lookalikes = [_finding("Deployment/keda/x", "CKV_K8S_38", source="keda/keda.yaml#0"),
                  _finding("Deployment/keda/y", "CKV_K8S_38", source="other/charts/keda/keda.yaml#0")]
    out = accept_for_charts(_report([own, *lookalikes]))
    assert sorted(f.object_id for f in out.findings) == [
        "Deployment/keda/x", "Deployment/keda/y", "Deployment/llm-serving/qwen-epp"]
    assert not out.skipped


def test_an_unregistered_check_on_a_chart_object_stays_a_failure(tmp_path) -> None:
    assert "CKV_K8S_16" not in CHART_ACCEPTED["kyverno"]
    privileged = _finding("Deployment/kyverno/kyverno-admission-controller", "CKV_K8S_16",
                          "Container should not be privileged", source="charts/kyverno/kyverno.yaml#2")
    registered_elsewhere = _finding("Deployment/keda/keda-operator", "CKV_K8S_11", source="charts/keda/keda.yaml#1")
    out = accept_for_charts(_report([privileged, registered_elsewhere]))
    assert {(f.object_id, f.rule) for f in out.findings if f.rule.startswith("CKV")} == {
        ("Deployment/kyverno/kyverno-admission-controller", "CKV_K8S_16"),
        ("Deployment/keda/keda-operator", "CKV_K8S_11")}, "a check registered for one release does not cover another"


def test_a_registration_that_accepted_nothing_on_a_stack_rendering_its_release_is_reported(tmp_path) -> None:
    out = accept_for_charts(_report(_all_used_but("prometheus", "CKV_K8S_43"),
                                    manifests_dir=_rendered(tmp_path, "prometheus")))
    assert [(f.source, f.rule) for f in out.findings] == [("charts/prometheus/", "skip-unused")]
    assert "CKV_K8S_43" in out.findings[0].message and "CHART_ACCEPTED" in out.findings[0].message


def test_registrations_of_a_release_the_stack_does_not_render_are_not_reported(tmp_path) -> None:
    out = accept_for_charts(_report(manifests_dir=_rendered(tmp_path, "cnpg")))
    assert {f.source for f in out.findings} == {"charts/cnpg/"}
    assert len(out.findings) == len(CHART_ACCEPTED["cnpg"])


def test_the_chart_registry_names_releases_and_check_ids_only() -> None:
    assert set(CHART_ACCEPTED) == {"cnpg", "istiod", "keda", "kueue", "kyverno", "prometheus"}
    assert all(re.fullmatch(r"CKV2?_K8S_\d+", check) for _, check in CHART_PAIRS)
    assert checkov_skips.chart_release_of("charts/istiod/istio-system.yaml#3") == "istiod"
    assert checkov_skips.chart_release_of("charts/istiod.yaml#0") is None


def _chart_rows() -> list[tuple[str, str, str]]:
    text = DOCS.read_text()
    table = text[text.index("| release | check | reason |"):].split("\n\n", 1)[0].splitlines()[2:]
    return [tuple(cell.strip() for cell in row.strip().strip("|").split(" | ", 2)) for row in table]


def test_docs_verify_md_lists_exactly_the_chart_exceptions_with_their_reasons() -> None:
    rows = _chart_rows()
    expected = [(release, check, reason) for release, checks in sorted(CHART_ACCEPTED.items())
                for check, reason in sorted(checks.items())]
    assert sorted(rows) == expected, "docs/verify.md's chart exceptions table must equal CHART_ACCEPTED"
