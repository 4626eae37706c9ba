"""Apply the platform's registered checkov exceptions (`llmplatform/k8s/checkov_skips.py`) to a scan.

The registrations are product data (the workload builders render them as annotations); this is the
`llmp verify` side that turns a raw checkov report into the accepted/failed view.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from llmp.verify.manifests import Checker, Finding
from llmplatform.k8s.checkov_skips import (
    CHART_ACCEPTED,
    CHARTS_FOLDER,
    chart_release_of,
    check_reason,
    is_registered,
    tier_reasons,
)

if TYPE_CHECKING:
    from llmp.verify.manifests.checkov_scan import CheckovReport


def accept_for_tier(report: CheckovReport, trust_tier: str) -> CheckovReport:
    """Apply the platform's rules on exceptions (`checkov_skips`) to a scan of its manifests.

    Findings of a check that `tier_reasons(trust_tier)` accepts become skipped checks
    (scope `tier:<tier>`, one per object, with the tier's reason). Added as findings: an annotation whose
    reason is not the one registered in `ACCEPTED` (rule `skip-unregistered`), and an
    annotation that skipped nothing (rule `skip-unused`), since a stale exception would hide a future
    failure of that check.
    """
    # Imported here: the scanner pulls in much more than `llmp verify --no-checkov` needs.
    from llmp.verify.manifests.checkov_scan import SkippedCheck
    from llmp.verify.manifests.manifests import provenance_key

    tier = tier_reasons(trust_tier)
    kept, accepted = [], []
    for finding in report.findings:
        if finding.rule in tier:
            accepted.append(SkippedCheck(object_id=finding.object_id, check_id=finding.rule,
                                         check_name=finding.message.split(" (on the ")[0],
                                         reason=tier[finding.rule], source=finding.source,
                                         scope=f"tier:{trust_tier}"))
        else:
            kept.append(finding)
    for skip in report.skipped:
        if skip.scope == "annotation" and not is_registered(skip.check_id, skip.reason):
            kept.append(Finding(source=skip.source, object_id=skip.object_id, checker=Checker.CHECKOV,
                                rule="skip-unregistered",
                                message=f"skip of {skip.check_id} is not registered in "
                                        f"llmplatform/k8s/checkov_skips.py (reason {skip.reason!r})"))
    for skip in report.unused_skips:
        kept.append(Finding(source=skip.source, object_id=skip.object_id, checker=Checker.CHECKOV, rule="skip-unused",
                            message=f"skip of {skip.check_id} skipped nothing (the check passes or does not apply): "
                                    "remove the stale exception"))
    return replace(report, findings=tuple(sorted(kept, key=provenance_key)),
                   skipped=tuple(sorted({*report.skipped, *accepted})))


def accept_for_charts(report: CheckovReport) -> CheckovReport:
    """Accept the failures `CHART_ACCEPTED` registers for upstream chart objects; report stale registrations.

    A finding is accepted when its source file lies under `charts/<release>/` of the scanned folder and
    `(release, check)` is registered: it becomes a skipped check (scope `chart:<release>`, one per
    object, with the registered reason). Findings on any other file (the program's own objects) and
    unregistered checks stay failures. A registered pair that accepted nothing, for a release whose
    folder exists in `report.manifests_dir` or that any finding names, is added as a finding (rule
    `skip-unused`, source `charts/<release>/`): remove it, or the exception would hide a later failure.
    """
    from llmp.verify.manifests.checkov_scan import SkippedCheck
    from llmp.verify.manifests.manifests import provenance_key

    kept, accepted, used = [], [], set()
    rendered = {r for r in CHART_ACCEPTED if (report.manifests_dir / CHARTS_FOLDER / r).is_dir()}
    for finding in report.findings:
        release = chart_release_of(finding.source)
        if release is not None:
            rendered.add(release)
        reason = CHART_ACCEPTED.get(release or "", {}).get(finding.rule)
        if reason is None:
            kept.append(finding)
            continue
        check_reason(finding.rule, reason)
        used.add((release, finding.rule))
        accepted.append(SkippedCheck(object_id=finding.object_id, check_id=finding.rule,
                                     check_name=finding.message.split(" (on the ")[0], reason=reason,
                                     source=finding.source, scope=f"chart:{release}"))
    for release in sorted(rendered & set(CHART_ACCEPTED)):
        for check_id in sorted(set(CHART_ACCEPTED[release]) - {c for r, c in used if r == release}):
            kept.append(Finding(source=f"{CHARTS_FOLDER}/{release}/", object_id="", checker=Checker.CHECKOV,
                                rule="skip-unused",
                                message=f"chart exception {check_id} for release {release} accepted nothing (the "
                                        "check passes on its objects now): remove it from CHART_ACCEPTED in "
                                        "llmplatform/k8s/checkov_skips.py"))
    return replace(report, findings=tuple(sorted(kept, key=provenance_key)),
                   skipped=tuple(sorted({*report.skipped, *accepted})))


__all__ = ["accept_for_charts", "accept_for_tier"]
