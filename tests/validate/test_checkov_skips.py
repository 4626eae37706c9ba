"""The platform's accepted checkov exceptions: one registry, applied by one helper, documented in one table.

Pure tests (no checkov run): `tests/verify/test_verify_planted.py` runs checkov on the rendered plans.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmplatform.validate import Checker, Finding, checkov_skips
from llmplatform.validate.checkov_scan import CheckovReport, SkippedCheck
from llmplatform.validate.checkov_skips import accept_for_tier

DOCS = Path(__file__).resolve().parents[2] / "docs" / "verify.md"
ALL_REASONS = [*checkov_skips.ACCEPTED.items(),
               *((c, r) for tier in checkov_skips.TIER_ACCEPTED.values() for c, r in tier.items())]


def _skip(oid: str, check: str, reason: str, scope: str = "annotation") -> SkippedCheck:
    return SkippedCheck(object_id=oid, check_id=check, check_name="t", reason=reason, scope=scope)


def _finding(oid: str, rule: str, message: str = "Minimize the admission of pods") -> Finding:
    return Finding(source="a.yaml#0", object_id=oid, message=message, checker=Checker.CHECKOV, rule=rule)


def _report(findings=(), skipped=(), unused=()) -> CheckovReport:
    return CheckovReport(manifests_dir=Path("."), findings=tuple(findings), skipped=tuple(skipped),
                         unused_skips=tuple(unused))


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


@pytest.mark.parametrize(("check_id", "reason"), ALL_REASONS)
def test_docs_verify_md_lists_each_exception_with_its_exact_reason(check_id: str, reason: str) -> None:
    rows = [line for line in DOCS.read_text().splitlines() if line.startswith(f"| {check_id} |")]
    assert len(rows) == 1, f"docs/verify.md needs exactly one table row for {check_id}"
    assert rows[0].rstrip().endswith(f"| {reason} |")
