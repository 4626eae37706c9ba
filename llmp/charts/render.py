"""Render one recorded `helm.v3.Release` into the objects `helm install` would send to the API server.

What an install does, and so what this does (Helm v3 `pkg/action/install.go`; Pulumi's `helm.v3.Release`
installs with Helm v3's engine, and Helm v4's templates render the same):

- CRDs under the chart's (and subcharts') `crds/` folders are created first, unless `skipCrds` is set;
  they are not templated and carry no release metadata.
- Templates are rendered with the release's values, name and namespace (`.Release.IsInstall` true).
  `NOTES.txt` is text for the user, not an object.
- Hooks (`helm.sh/hook`) are run around the install: `pre-install` and `post-install` hooks are
  created, every other hook (`test`, `pre-delete`, `post-upgrade`, ...) is not created by an install.
- Every other object gets the release's ownership metadata (`setMetadataVisitor`: label
  `app.kubernetes.io/managed-by: Helm`, annotations `meta.helm.sh/release-name` and
  `meta.helm.sh/release-namespace`), and a namespaced object without a namespace is created in the
  release namespace (the kube client's builder defaults it).

Repeated keys in a rendered mapping are recorded: the API server would see only one of the values.
The render is offline: `lookup` returns nothing and capabilities are Helm's defaults, not a cluster's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmp.charts.sources import ChartRef
from llmplatform.k8s.yaml_docs import documents

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
HOOK = "helm.sh/hook"
INSTALL_HOOKS = frozenset({"pre-install", "post-install"})
"""The hooks `helm install` runs; every other hook kind is skipped by an install."""
MANAGED_BY = ("app.kubernetes.io/managed-by", "Helm")
RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name"
RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"

CLUSTER_SCOPED_BUILTINS = frozenset({
    ("", "Namespace"), ("", "Node"), ("", "PersistentVolume"), ("", "ComponentStatus"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("scheduling.k8s.io", "PriorityClass"), ("storage.k8s.io", "StorageClass"), ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"), ("storage.k8s.io", "VolumeAttachment"), ("storage.k8s.io", "VolumeAttributesClass"),
    ("node.k8s.io", "RuntimeClass"), ("networking.k8s.io", "IngressClass"), ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"), ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"), ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("resource.k8s.io", "DeviceClass"), ("resource.k8s.io", "ResourceSlice"),
})
"""Built-in kinds that have no namespace (Kubernetes 1.33 API discovery, `namespaced: false`)."""


class ChartRenderError(RuntimeError):
    """The Helm engine refused the chart or its values (the message is Helm's)."""


@dataclass(frozen=True)
class ReleaseSpec:
    """A `helm.v3.Release` as the program registered it (plan inputs)."""

    urn: str
    logical_name: str
    name: str
    """The Helm release name."""
    namespace: str
    ref: ChartRef
    values: dict[str, Any]
    skip_crds: bool = False

    @classmethod
    def from_plan(cls, resource: Mapping[str, Any]) -> ReleaseSpec:
        """From one `plan.json` resource of type `kubernetes:helm.sh/v3:Release`."""
        inputs = resource["inputs"]
        repo = (inputs.get("repositoryOpts") or {}).get("repo")
        name = inputs.get("name") or resource["name"]
        return cls(urn=resource["urn"], logical_name=resource["name"], name=name,
                   namespace=inputs.get("namespace") or "default",
                   ref=ChartRef(chart=inputs["chart"], version=str(inputs.get("version") or ""), repo=repo,
                                release=name),
                   values=inputs.get("values") or {}, skip_crds=bool(inputs.get("skipCrds")))


@dataclass(frozen=True)
class Skipped:
    template: str
    kind: str
    name: str
    reason: str


@dataclass(frozen=True)
class DuplicateKey:
    template: str
    object_id: str
    line: int
    key: str


@dataclass
class RenderedRelease:
    spec: ReleaseSpec
    source: Path
    crds: list[dict[str, Any]] = field(default_factory=list)
    """From `crds/` folders: created first, exactly as written."""
    objects: list[dict[str, Any]] = field(default_factory=list)
    """Rendered templates and install hooks, as sent to the API server."""
    skipped: list[Skipped] = field(default_factory=list)
    duplicate_keys: list[DuplicateKey] = field(default_factory=list)

    @property
    def all_objects(self) -> list[dict[str, Any]]:
        return [*self.crds, *self.objects]


def _group(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion") or "").rpartition("/")[0]


def _oid(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def crd_scopes(objects: list[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(group, kind) -> `Namespaced` or `Cluster`, from CustomResourceDefinitions among `objects`."""
    out: dict[tuple[str, str], str] = {}
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            out[(spec.get("group", ""), (spec.get("names") or {}).get("kind", ""))] = spec.get("scope", "Namespaced")
    return out


def is_namespaced(obj: Mapping[str, Any], scopes: Mapping[tuple[str, str], str]) -> bool:
    key = (_group(obj), str(obj.get("kind")))
    if key in CLUSTER_SCOPED_BUILTINS:
        return False
    return scopes.get(key, "Namespaced") == "Namespaced"


def _hook_kinds(obj: Mapping[str, Any]) -> set[str]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(HOOK)
    return {h.strip() for h in str(raw).split(",") if h.strip()} if raw else set()


def _parse(template: str, text: str, out: RenderedRelease) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    try:
        for doc in documents(text):
            if not isinstance(doc.data, dict):
                continue  # empty documents (a template whose `if` was false) and comments
            for line, key in doc.duplicate_keys:
                out.duplicate_keys.append(DuplicateKey(template, _oid(doc.data), line, key))
            objs.append(doc.data)
    except yaml.YAMLError as exc:
        raise ChartRenderError(f"{out.spec.ref.name} {out.spec.ref.version}: template {template} rendered "
                               f"unreadable YAML: {exc}") from None
    return objs


def render_release(spec: ReleaseSpec, source: Path, *, extra_scopes: Mapping[tuple[str, str], str] | None = None
                   ) -> RenderedRelease:
    """Render `spec` from the chart at `source` (a directory or `.tgz`); see the module docstring."""
    import helm_python as helm  # a 75 MB native library: loaded only when a chart is rendered

    out = RenderedRelease(spec=spec, source=source)
    try:
        with helm.Chart.load(source) as chart:
            crd_files = [] if spec.skip_crds else chart.crds
            rendered = chart.render(copy.deepcopy(spec.values), name=spec.name, namespace=spec.namespace,
                                    is_install=True)
    except helm.HelmError as exc:
        raise ChartRenderError(f"{spec.ref.name} {spec.ref.version} ({source}) for release {spec.name}: {exc}") \
            from None
    for crd in sorted(crd_files, key=lambda c: c["name"]):
        out.crds += _parse(crd["name"], crd["data"], out)
    templated: list[tuple[str, dict[str, Any]]] = []
    for template in sorted(rendered):
        if template.endswith("NOTES.txt"):
            continue
        templated += [(template, obj) for obj in _parse(template, rendered[template], out)]
    scopes = {**(extra_scopes or {}), **crd_scopes([*out.crds, *(o for _, o in templated)])}
    for template, obj in templated:
        hooks = _hook_kinds(obj)
        meta = obj.setdefault("metadata", {})
        if hooks and not hooks & INSTALL_HOOKS:
            out.skipped.append(Skipped(template, str(obj.get("kind")), str(meta.get("name")),
                                       f"hook {','.join(sorted(hooks))}: not run by an install"))
            continue
        if is_namespaced(obj, scopes) and not meta.get("namespace"):
            meta["namespace"] = spec.namespace
        if not hooks:
            meta.setdefault("labels", {})[MANAGED_BY[0]] = MANAGED_BY[1]
            annotations = meta.setdefault("annotations", {})
            annotations[RELEASE_NAME_ANNOTATION] = spec.name
            annotations[RELEASE_NAMESPACE_ANNOTATION] = spec.namespace
        out.objects.append(obj)
    return out


def release_of(obj: Mapping[str, Any]) -> str | None:
    """The Helm release an object belongs to (its ownership annotation), or None for the program's own."""
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(RELEASE_NAME_ANNOTATION)


def summary(rendered: RenderedRelease) -> dict[str, Any]:
    """The index entry `llmp plan` writes for one rendered release."""
    spec = rendered.spec
    return {
        "release": spec.name, "namespace": spec.namespace, "urn": spec.urn, "chart": spec.ref.name,
        "version": spec.ref.version, "repository": spec.ref.repo or spec.ref.chart, "source": str(rendered.source),
        "status": "rendered", "crds": len(rendered.crds), "objects": len(rendered.objects),
        "skipped": [s.__dict__ for s in rendered.skipped],
        "duplicateKeys": [d.__dict__ for d in rendered.duplicate_keys],
    }


def stable_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"
