"""The pinned Kyverno release SR2's ClusterPolicy needs (`governance.kyverno`), and its values."""

from __future__ import annotations

from typing import Any

from llmplatform import labels

KYVERNO_CHART = "kyverno"
KYVERNO_CHART_VERSION = "3.9.0"
"""kyverno/kyverno chart 3.9.0 ships Kyverno v1.19.0, the release whose ClusterPolicy CRD schema
the validity proof checks against (shared/crd-schemas)."""
KYVERNO_CHART_REPO = "https://kyverno.github.io/kyverno/"
KYVERNO_RELEASE = "kyverno"


def kyverno_values(*, high_availability: bool, exempt_namespaces: tuple[str, ...]) -> dict[str, Any]:
    """Helm values for the pinned Kyverno release.

    - HA on prod: 3 admission controller replicas (the chart then adds a PDB), 2 of each other controller.
    - `policyExceptions` off: no namespace can exempt itself from SR2 with a PolicyException.
    - `generateValidatingAdmissionPolicy` off: the platform renders its own VAP for SR2; a second,
      Kyverno-generated one would duplicate it under another name.
    - Kyverno's webhooks skip the SR2-exempt namespaces (as the rule does), so operator and system
      namespaces never wait on Kyverno being up.
    - Every controller pod gets a pod security context (non-root, RuntimeDefault seccomp; the chart's
      container contexts already run as 65534, drop ALL and keep the root filesystem read-only) and
      pulls its tag-pinned image `Always`.
    - The background, cleanup and reports controllers keep the chart's requests and memory limits and
      get a CPU limit. The admission controller keeps none: it answers API writes within a webhook
      timeout, and throttling would turn a burst of pod creations into refused admissions.
    """
    replicas = 3 if high_availability else 1
    others = 2 if high_availability else 1
    pod_security = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    pull = {"pullPolicy": "Always"}

    def controller(count: int) -> dict[str, Any]:
        return {"replicas": count, "image": dict(pull), "podSecurityContext": dict(pod_security),
                # kyverno-chart-3.9.0 values.yaml defaults, plus the CPU limit.
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"cpu": "500m", "memory": "128Mi"}}}

    return {
        "crds": {"install": True},
        "admissionController": {"replicas": replicas, "podSecurityContext": dict(pod_security),
                                "container": {"image": dict(pull)}},
        "backgroundController": controller(others),
        "cleanupController": controller(others),
        "reportsController": controller(others),
        "features": {
            "policyExceptions": {"enabled": False},
            "generateValidatingAdmissionPolicy": {"enabled": False},
            "forceFailurePolicyIgnore": {"enabled": False},
        },
        "config": {"webhooks": {"namespaceSelector": {"matchExpressions": [
            {"key": labels.K8S_NS_NAME, "operator": "NotIn", "values": list(exempt_namespaces)}]}}},
    }
