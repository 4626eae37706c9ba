"""No platform workload runs as the default ServiceAccount (rides on SR1 identity; see the control's render)."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from llmplatform.controls.no_default_service_account.predicates import default_service_account_problems
from llmplatform.controls.sr1_network.render import MANAGED_NAMESPACES

from .common import k8s_object


def _own_service_account(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj = k8s_object(args.resource_type, args.props)
    if obj is None:
        return
    for problem in default_service_account_problems(obj):
        report(problem, None)


sr1_no_default_service_account = ResourceValidationPolicy(
    name="sr1-no-default-service-account",
    description=f"SR1: every rendered Pod or workload in a platform namespace ({', '.join(MANAGED_NAMESPACES)}) "
                "runs as its own ServiceAccount, never the namespace's `default` (which any pod that names none "
                "runs as, so a trusted label bound to it could be worn by anyone).",
    validate=_own_service_account,
    severity=Severity.HIGH,
    remediation_steps="Create a ServiceAccount for the workload (automountServiceAccountToken false unless it calls "
                      "the API) and set serviceAccountName on its pod template.",
)

POLICIES = [sr1_no_default_service_account]
