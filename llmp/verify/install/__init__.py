"""The install proof: would the first `pulumi up` of this plan succeed on its substrate?

SR1-SR3 hold over rendered objects only if those objects get created. This proof models what the
cluster and the engine do during an install, over plan.json plus every rendered Helm release
(`llmp plan` writes both): the order Pulumi creates things in (CRDs before their custom resources,
failurePolicy-Fail webhooks before what they intercept, Workload Identity pools before their IAM
members), what the GKE control plane can reach (webhook and APIService ports on private nodes, the API
endpoint from the authorized networks), how long Pulumi and Helm wait for workloads, which CRDs the
substrate owns, and whether the enabled add-ons' namespaces are exempt from the platform's admission.

Not modelled: webhooks an operator registers at run time (Kyverno's resource webhooks, Istio's
revision-tagged injector), CEL `matchConditions`, and anything the provider or the API server decides
beyond these contracts (quotas, IAM propagation delays).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from llmp.verify.install.checks import CHECKS, Problem
from llmp.verify.install.model import InstallModel


@dataclass
class InstallResult:
    checks: list[str]
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    missing_charts: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def prove_install(build_dir: Path) -> InstallResult:
    model = InstallModel.load(build_dir)
    result = InstallResult(checks=[name for name, _ in CHECKS], missing_charts=model.missing_charts)
    for _, check in CHECKS:
        result.problems += check(model)
    result.counts = {"plannedObjects": len(model.planned), "chartObjects": len(model.charts),
                     "releases": len(model.releases), "resources": len(model.plan["resources"])}
    return result


__all__ = ["InstallResult", "Problem", "prove_install"]
