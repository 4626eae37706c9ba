"""Hygiene: images pinned by digest, and no plaintext secrets in ConfigMaps or container env."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from llmplatform.controls.sr2_gpu_admission import predicates as gpu
from llmplatform.predicates import secrets
from llmplatform.predicates.images import is_pinned_by_digest

from .common import is_kind, k8s_object


def _images(obj: dict) -> list[tuple[str, str]]:
    """(where, image) for every image a rendered object runs."""
    out = []
    for path, spec in gpu.pod_specs(obj):
        for list_name, container in gpu.containers(spec):
            out.append((f"{path}.{list_name}[{container.get('name', '?')}]", str(container.get("image") or "")))
    if is_kind(obj, "Cluster", "postgresql.cnpg.io") and (obj.get("spec") or {}).get("imageName"):
        out.append(("spec.imageName", str(obj["spec"]["imageName"])))
    return out


def _pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj = k8s_object(args.resource_type, args.props)
    if obj is None:
        return
    for where, image in _images(obj):
        if not is_pinned_by_digest(image):
            report(f"{obj.get('kind')} {where} runs {image or '(no image)'}: pin it as repo:tag@sha256:<digest> "
                   "(a tag can be moved to other content)", None)


hygiene_images_pinned = ResourceValidationPolicy(
    name="hygiene-images-pinned",
    description="Hygiene: every container, init container and ephemeral container image (and a CloudNativePG "
                "Cluster's imageName) is pinned by sha256 digest.",
    validate=_pinned,
    severity=Severity.MEDIUM,
)


def _no_plaintext(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj = k8s_object(args.resource_type, args.props)
    if obj is None:
        return
    if is_kind(obj, "ConfigMap"):
        for where in secrets.configmap_findings(obj):
            report(f"ConfigMap holds what looks like a plaintext secret at {where}: keep it in a Secret and "
                   "reference it (os.environ/VAR in LiteLLM's config, secretKeyRef in env)", None)
    for path, spec in gpu.pod_specs(obj):
        for list_name, container in gpu.containers(spec):
            for name in secrets.env_findings(container):
                report(f"{obj.get('kind')} {path}.{list_name}[{container.get('name', '?')}] sets env {name} to a "
                       "literal secret: use valueFrom.secretKeyRef", None)


hygiene_no_plaintext_secrets = ResourceValidationPolicy(
    name="hygiene-no-plaintext-secrets",
    description="Hygiene: no ConfigMap value and no container env `value` holds a plaintext secret (secret-named "
                "keys with literal values, credential-shaped values, or a Pulumi secret rendered in place).",
    validate=_no_plaintext,
    severity=Severity.HIGH,
)

POLICIES = [hygiene_images_pinned, hygiene_no_plaintext_secrets]
