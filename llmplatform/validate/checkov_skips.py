"""The one place that says which checkov checks the platform accepts failing, and why.

Two kinds of accepted exception, both listed by `llmp verify` (verify.json, report.md) and in
docs/verify.md:

- **Object skips** (`ACCEPTED`): written on the object with checkov's own annotation
  `checkov.io/skip<N>: <CHECK_ID>=<reason>`; the workload builders call `annotations(...)` with check
  ids only, so the reason text lives here and nowhere else. `accept_for_tier()` reports an
  annotation whose reason is not the one registered here (a skip written by hand somewhere else).
- **Tier skips** (`TIER_ACCEPTED`): a check that fails on every workload of a trust tier by design,
  where the objects cannot carry the skip because the workload builders do not know the tier. The
  check still runs; `accept_for_tier()` moves its findings into the skipped list, object by object,
  with the tier's reason, so nothing disappears from the report.

A reason never contains `=` (checkov 3.3.x splits the annotation on every `=` and crashes on the whole
folder) nor `|` (it is shown in Markdown tables); `annotations()` refuses both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from llmplatform.validate import Checker, Finding

if TYPE_CHECKING:
    from llmplatform.validate.checkov_scan import CheckovReport

ACCEPTED: Mapping[str, str] = MappingProxyType({
    "CKV_K8S_11": (
        "no CPU limit on the request path by design: CFS quota throttling adds tail latency to every "
        "inference call; the CPU request reserves the share the pod needs"
    ),
    "CKV_K8S_22": (
        "only the schema-migration init container has a writable root filesystem: prisma migrate writes "
        "into folders the LiteLLM image owns; the proxy container itself is read-only"
    ),
    "CKV_K8S_35": (
        "the program reads this credential only from an environment variable (vLLM VLLM_API_KEY and "
        "HF_TOKEN, the LiteLLM proxy and its tenant reconciler their master key and database URL, valkey-cli "
        "REDISCLI_AUTH); the value stays in a Secret referenced by key and is never on a command line"
    ),
    "CKV_K8S_38": (
        "this pod calls the Kubernetes API under a least-privilege namespaced Role (the endpoint picker "
        "watches its InferencePool and pods; the tenant reconciler writes key Secrets by name)"
    ),
})
"""checkov check id -> why the platform accepts it failing on the objects that carry the skip."""

TIER_ACCEPTED: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "trusted": MappingProxyType({
        "CKV2_K8S_6": (
            "trusted tier: one team, so no NetworkPolicies are rendered by design and SR1 is dormant "
            "(docs/trust-tiers.md); multi-team and untrusted tiers select every pod"
        ),
    }),
})
"""trust tier -> {checkov check id -> reason}: checks accepted failing on every object of that tier."""

ANNOTATION_PREFIX = "checkov.io/skip"


def _check_reason(check_id: str, reason: str) -> None:
    if "=" in reason or "|" in reason:
        raise ValueError(f"the reason for {check_id} contains '=' or '|': {reason!r}; reword it in checkov_skips")


def annotations(*check_ids: str) -> dict[str, str]:
    """`{"checkov.io/skip1": "<id>=<reason>", ...}` for the given ids, reasons from `ACCEPTED`.

    Raises KeyError naming the registered ids when an id is not in `ACCEPTED` (a new exception is
    added here first, with its reason), and ValueError on a repeated id.
    """
    if len(set(check_ids)) != len(check_ids):
        raise ValueError(f"repeated check id in {check_ids}")
    out = {}
    for i, check_id in enumerate(check_ids, start=1):
        if check_id not in ACCEPTED:
            raise KeyError(f"{check_id} is not an accepted checkov exception; registered: {sorted(ACCEPTED)}")
        _check_reason(check_id, ACCEPTED[check_id])
        out[f"{ANNOTATION_PREFIX}{i}"] = f"{check_id}={ACCEPTED[check_id]}"
    return out


def tier_reasons(trust_tier: str) -> Mapping[str, str]:
    """The checks accepted on every object of `trust_tier` (empty for tiers without such rules)."""
    return TIER_ACCEPTED.get(trust_tier, MappingProxyType({}))


def is_registered(check_id: str, reason: str) -> bool:
    """True when `reason` is exactly the one `ACCEPTED` holds for `check_id` (not a skip written elsewhere)."""
    return ACCEPTED.get(check_id) == reason


def accept_for_tier(report: CheckovReport, trust_tier: str) -> CheckovReport:
    """Apply the platform's rules on exceptions (`checkov_skips`) to a scan of its manifests.

    Findings of a check that `tier_reasons(trust_tier)` accepts become skipped checks
    (scope `tier:<tier>`, one per object, with the tier's reason). Added as findings: an annotation whose
    reason is not the one registered in `ACCEPTED` (rule `skip-unregistered`), and an
    annotation that skipped nothing (rule `skip-unused`), since a stale exception would hide a future
    failure of that check.
    """
    # Imported here: workload builders import this module, and the scanner pulls in much more.
    from llmplatform.validate.checkov_scan import SkippedCheck
    from llmplatform.validate.manifests import provenance_key

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
                                        f"llmplatform/validate/checkov_skips.py (reason {skip.reason!r})"))
    for skip in report.unused_skips:
        kept.append(Finding(source=skip.source, object_id=skip.object_id, checker=Checker.CHECKOV, rule="skip-unused",
                            message=f"skip of {skip.check_id} skipped nothing (the check passes or does not apply): "
                                    "remove the stale exception"))
    return replace(report, findings=tuple(sorted(kept, key=provenance_key)),
                   skipped=tuple(sorted({*report.skipped, *accepted})))


__all__ = ["ACCEPTED", "ANNOTATION_PREFIX", "TIER_ACCEPTED", "accept_for_tier", "annotations", "is_registered",
           "tier_reasons"]
