"""SR2: every GPU is requested through Kueue. The admission rules exist and deny; rendered GPU workloads are queued."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from llmplatform.controls.sr2_gpu_admission.render import (
    GPU_RESOURCE_NAMES,
    GPU_RESOURCE_PREFIXES,
    OPERATIONS,
    QUEUE_NAME_LABEL,
    WORKLOAD_KINDS,
)
from llmplatform.controls.sr2_gpu_admission import predicates as gpu
from llmplatform.predicates import admission

from .common import PROFILE_SCHEMA, SR2_ADMISSION, dormancy_reason, is_kind, k8s_object, objects_of

REQUIRED_RESOURCES = tuple((k.group, r) for k in WORKLOAD_KINDS for r in k.vap_resources)
"""(API group, resource) pairs the SR2 VAP must match: every kind, including pods/ephemeralcontainers."""


def _admission(args: StackValidationArgs, report: ReportViolation) -> None:
    objects = [o for _, o in objects_of(args.resources)]
    reason = dormancy_reason(objects, SR2_ADMISSION, args.get_config(), enforced_only=True)
    if reason:
        args.not_applicable(reason)
    vaps = [o for o in objects if is_kind(o, "ValidatingAdmissionPolicy", "admissionregistration.k8s.io")]
    bindings = [o for o in objects if is_kind(o, "ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io")]
    kyverno = [o for o in objects if is_kind(o, "ClusterPolicy", "kyverno.io")]
    names = GPU_RESOURCE_NAMES + GPU_RESOURCE_PREFIXES

    def sr2(o: dict) -> bool:
        return gpu.is_sr2_rule(o, names, QUEUE_NAME_LABEL)

    for problem in admission.control_problems(
            "SR2 (GPU requests need a Kueue queue)", [v for v in vaps if sr2(v)], bindings,
            [k for k in kyverno if sr2(k)], required=REQUIRED_RESOURCES, operations=OPERATIONS):
        report(problem, None)


sr2_admission_enforced = StackValidationPolicy(
    name="sr2-admission-enforced",
    description="SR2: the GPU admission rule is rendered as a ValidatingAdmissionPolicy bound with Deny (and, where "
                "rendered, a Kyverno ClusterPolicy that Enforces), covering Pods and every workload kind on CREATE "
                "and UPDATE with failurePolicy Fail.",
    validate=_admission,
    config_schema=PROFILE_SCHEMA,
    severity=Severity.CRITICAL,
)


def _gpu_queued(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj = k8s_object(args.resource_type, args.props)
    if obj is None:
        return
    for problem in gpu.gpu_workload_violations(obj) + gpu.gpu_access_without_request(obj):
        report(problem, None)


sr2_gpu_workloads_queued = ResourceValidationPolicy(
    name="sr2-gpu-workloads-queued",
    description=f"SR2: every rendered Pod or workload that requests nvidia.com/gpu or nvidia.com/mig-* (any container "
                f"list, requests or limits) carries {QUEUE_NAME_LABEL} on the object and on every pod template; "
                "one that requests no GPU neither tolerates the GPU taint, uses the nvidia runtime class nor sets "
                "NVIDIA device variables.",
    validate=_gpu_queued,
    severity=Severity.HIGH,
)

POLICIES = [sr2_admission_enforced, sr2_gpu_workloads_queued]
