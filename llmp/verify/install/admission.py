"""Which admission webhooks intercept the creation of an object (admissionregistration.k8s.io/v1).

From the API's contract (`ValidatingWebhook` / `MutatingWebhook` field documentation):
- `rules`: an object matches a rule when the CREATE operation, its API group, version, resource and scope
  are covered (`*` covers all; `*/*` covers subresources too, a bare resource name only the resource).
  `matchPolicy` defaults to `Equivalent`: a request for another version of the same resource is
  converted and sent, so the version does not limit the match; only `Exact` compares it.
- `namespaceSelector` (default: everything): for a namespaced object, evaluated on its namespace's labels;
  for a Namespace, on the object's own labels; any other cluster-scoped object is never skipped by it.
- `objectSelector` (default: everything): evaluated on the object's labels.
- `failurePolicy` defaults to `Fail`: when the webhook cannot be called, the request is refused.
- `matchConditions` are CEL the API server evaluates; they are not evaluated here, so a webhook with them
  is taken to intercept (the conservative answer for ordering and reachability).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from llmplatform.k8s.selectors import selects
from llmp.verify.install.model import InstallModel, group_of, version_of

WEBHOOK_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
IRREGULAR_RESOURCES = {("", "Endpoints"): "endpoints"}


def resource_name(obj: Mapping[str, Any], model: InstallModel) -> str:
    """The REST resource of an object's kind: a CRD's plural, else Kubernetes' own guess
    (`meta.UnsafeGuessKindToResource`: lowercase, `s` -> `ses`, `y` -> `ies`, else `+s`)."""
    key = (group_of(obj), str(obj.get("kind")))
    crd = model.crds.get(key)
    if crd:
        return (crd.get("spec") or {}).get("names", {}).get("plural", "")
    if key in IRREGULAR_RESOURCES:
        return IRREGULAR_RESOURCES[key]
    kind = key[1].lower()
    if kind.endswith("s"):
        return kind + "es"
    if kind.endswith("y"):
        return kind[:-1] + "ies"
    return kind + "s"


@dataclass(frozen=True)
class Webhook:
    configuration: str
    name: str
    kind: str
    release: str
    release_urn: str
    spec: Mapping[str, Any]

    @property
    def failure_policy(self) -> str:
        return str(self.spec.get("failurePolicy") or "Fail")

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.configuration} webhook {self.name} (chart release {self.release})"


def chart_webhooks(model: InstallModel) -> Iterator[Webhook]:
    for chart_obj in model.charts:
        if chart_obj.obj.get("kind") in WEBHOOK_KINDS:
            for hook in chart_obj.obj.get("webhooks") or []:
                yield Webhook(chart_obj.obj["metadata"]["name"], hook.get("name", ""), chart_obj.obj["kind"],
                              chart_obj.release, chart_obj.release_urn, hook)


def _rule_matches(rule: Mapping[str, Any], obj: Mapping[str, Any], resource: str, namespaced: bool,
                  exact: bool) -> bool:
    operations = rule.get("operations") or []
    if "CREATE" not in operations and "*" not in operations:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and group_of(obj) not in groups:
        return False
    versions = rule.get("apiVersions") or []
    if exact and "*" not in versions and version_of(obj) not in versions:
        return False
    resources = rule.get("resources") or []
    if not ({"*", "*/*", resource} & set(resources)):
        return False
    scope = rule.get("scope") or "*"
    return scope == "*" or scope == ("Namespaced" if namespaced else "Cluster")


def intercepts(hook: Webhook, obj: Mapping[str, Any], model: InstallModel) -> bool:
    """True when the API server would send the creation of `obj` to `hook` (see the module docstring)."""
    namespaced = model.namespaced(obj)
    resource = resource_name(obj, model)
    exact = hook.spec.get("matchPolicy") == "Exact"
    if not any(_rule_matches(r, obj, resource, namespaced, exact) for r in hook.spec.get("rules") or []):
        return False
    meta = obj.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    ns_selector = hook.spec.get("namespaceSelector")
    if obj.get("kind") == "Namespace" and group_of(obj) == "":
        if not selects(ns_selector, {**labels, "kubernetes.io/metadata.name": meta.get("name", "")}):
            return False
    elif namespaced and not selects(ns_selector, model.labels_of_namespace(str(meta.get("namespace") or "default"))):
        return False
    return selects(hook.spec.get("objectSelector"), labels)
