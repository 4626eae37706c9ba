"""Kueue's scope, read from its rendered chart: where a queue label is acted on (SR2 rule 5).

Modelled from Kueue v0.19.2 and its chart at that version:

- The controller reads `controller_manager_config.yaml` from the ConfigMap the chart renders
  (`<release>-manager-config`, mounted at /controller_manager_config.yaml). Its
  `managedJobsNamespaceSelector` is a hard exemption for the pod-based integrations (pod, deployment,
  statefulset, leaderworkerset): outside it a queue label is ignored. Absent, Kueue defaults it to
  `kubernetes.io/metadata.name NotIn [kube-system, <Kueue's namespace>]`, and absent frameworks to
  `batch/job` alone (apis/config/v1beta2/defaults.go).
- Only the integrations listed in `integrations.frameworks` run; a kind without its integration is
  never queued (a CronJob's Jobs are queued by `batch/job`).
- The chart copies `managedJobsNamespaceSelector` into every job webhook's `namespaceSelector`, and
  Kueue suspends a Job or gates a pod in its mutating webhook: a namespace the webhook does not
  select starts its pods before (or without) Kueue seeing them, so the webhook must select the
  namespace too (this also covers a Job, which the controller would otherwise still manage late).

Nothing here is taken from `llmplatform.controls.sr2_gpu_admission.render` or the platform's Kueue values: the facts come
from the rendered objects only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from llmp.verify.sr2.matching import Unmodelled, label_selector_matches

CONFIG_KEY = "controller_manager_config.yaml"
FRAMEWORK_OF_KIND = {
    "Pod": "pod", "Deployment": "deployment", "StatefulSet": "statefulset", "Job": "batch/job",
    "CronJob": "batch/job", "LeaderWorkerSet": "leaderworkerset.x-k8s.io/leaderworkerset",
}
"""Kueue integration names (pkg/controller/jobs/*: `FrameworkName`) per kind SR2 covers."""
WEBHOOK_RESOURCE_OF_KIND = {
    "Pod": "pods", "Deployment": "deployments", "StatefulSet": "statefulsets", "Job": "jobs", "CronJob": "jobs",
    "LeaderWorkerSet": "leaderworkersets",
}
"""The resource whose Kueue mutating webhook must intercept the object (a CronJob: the Jobs it creates)."""


@dataclass(frozen=True)
class KueueConfig:
    """What the rendered Kueue release acts on."""

    namespace_selector: Mapping[str, Any]
    frameworks: tuple[str, ...]
    webhook_selectors: Mapping[str, Mapping[str, Any] | None]
    """Resource -> the namespaceSelector of Kueue's mutating webhook for it (None: matches every namespace)."""
    source: str
    """Which object the configuration came from, for messages."""

    def manages(self, kind: str, namespace_labels: Mapping[str, str]) -> tuple[bool, str]:
        """(True, "") when Kueue queues a labelled `kind` in a namespace with these labels, else (False, why)."""
        name = namespace_labels.get("kubernetes.io/metadata.name", "?")
        framework = FRAMEWORK_OF_KIND.get(kind)
        if framework is None or framework not in self.frameworks:
            return False, f"Kueue's integrations.frameworks {list(self.frameworks)} lack {framework!r} ({kind})"
        if not label_selector_matches(self.namespace_selector, namespace_labels, f"{self.source} selector"):
            return False, (f"Kueue's managedJobsNamespaceSelector ({self.source}) does not select namespace "
                           f"{name}")
        resource = WEBHOOK_RESOURCE_OF_KIND[kind]
        if resource not in self.webhook_selectors:
            return False, f"Kueue renders no mutating webhook for {resource}"
        selector = self.webhook_selectors[resource]
        if selector is not None and not label_selector_matches(selector, namespace_labels, f"webhook {resource}"):
            return False, f"Kueue's mutating webhook for {resource} does not select namespace {name}"
        return True, ""

    def named_namespaces(self) -> list[str]:
        """Namespace names the selectors mention (probe namespaces for the proof)."""
        out: list[str] = []
        for sel in (self.namespace_selector, *self.webhook_selectors.values()):
            for expr in (sel or {}).get("matchExpressions") or ():
                out += [str(v) for v in expr.get("values") or ()]
            out += [str(v) for v in ((sel or {}).get("matchLabels") or {}).values()]
        return out


def read_kueue_config(objects: Sequence[Mapping[str, Any]]) -> tuple[KueueConfig | None, list[str]]:
    """Kueue's configuration from the rendered objects, or (None, problems) when it cannot be read."""
    maps = [o for o in objects if o.get("kind") == "ConfigMap" and CONFIG_KEY in (o.get("data") or {})]
    if len(maps) != 1:
        return None, [f"expected exactly one rendered ConfigMap with {CONFIG_KEY} (Kueue's configuration), "
                      f"found {len(maps)}: Kueue's scope cannot be compared with SR2's"]
    cm = maps[0]
    meta = cm.get("metadata") or {}
    source = f"ConfigMap {meta.get('namespace')}/{meta.get('name')}"
    try:
        config = yaml.safe_load(cm["data"][CONFIG_KEY]) or {}
    except yaml.YAMLError as exc:
        return None, [f"{source}: {CONFIG_KEY} is not YAML: {exc}"]
    # Defaults as apis/config/v1beta2/defaults.go (v0.19.2) sets them: the selector excludes kube-system and
    # Kueue's own namespace (config `namespace`, else the pod's); no frameworks means `batch/job` only.
    selector = config.get("managedJobsNamespaceSelector")
    if selector is None:
        own = str(config.get("namespace") or meta.get("namespace") or "kueue-system")
        selector = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                          "values": ["kube-system", own]}]}
    frameworks = tuple(((config.get("integrations") or {}).get("frameworks")) or ("batch/job",))
    webhooks: dict[str, Mapping[str, Any] | None] = {}
    for o in objects:
        if o.get("kind") != "MutatingWebhookConfiguration":
            continue
        for hook in o.get("webhooks") or ():
            service = ((hook.get("clientConfig") or {}).get("service") or {})
            if "kueue" not in str(service.get("name", "")):
                continue
            for rule in hook.get("rules") or ():
                if "CREATE" not in (rule.get("operations") or ()) and "*" not in (rule.get("operations") or ()):
                    continue
                for resource in rule.get("resources") or ():
                    webhooks[str(resource)] = hook.get("namespaceSelector")
    problems: list[str] = []
    try:
        label_selector_matches(selector, {}, source)
    except Unmodelled as exc:
        problems.append(str(exc))
    return KueueConfig(selector, frameworks, webhooks, source), problems
