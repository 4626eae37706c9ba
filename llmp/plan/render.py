"""Turn a PlanRun into files: `plan.json` (every resource) and `manifests/` (every Kubernetes object).

Both are deterministic: resources sorted by URN, keys sorted, integral floats written as integers
(the mock wire protocol turns every number into a float), secrets replaced by "[secret]".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from llmplatform.k8s.yaml_docs import documents
from llmp.plan.mocks import SECRET_SIG, SECRET_VALUE_SIG, Registration
from llmp.plan.runner import PlanRun

SECRET_PLACEHOLDER = "[secret]"

# Kubernetes types that are not objects in the cluster (providers, Helm releases, remote components).
_NOT_MANIFESTS = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:yaml/v2:ConfigGroup",
                  "kubernetes:yaml/v2:ConfigFile", "kubernetes:kustomize/v2:Directory")


def scrub(value: Any) -> Any:
    """Replace secrets with a placeholder, integral floats with ints, and drop Pulumi-internal keys."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE_SIG:
            return _redact(value.get("value"))
        return {k: scrub(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _redact(value: Any) -> Any:
    """Secret values become "[secret]"; the shape around them (a Secret's keys) stays, so manifests still
    validate and a reader sees which keys exist. Keys are names, never secret material."""
    if isinstance(value, dict):
        inner = value.get("value") if value.get(SECRET_SIG) == SECRET_VALUE_SIG else value
        if inner is not value:
            return _redact(inner)
        return {k: _redact(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return SECRET_PLACEHOLDER


def short_urn(urn: str) -> str:
    """`urn:pulumi:dev::llm-platform::a$b::name` -> `b::name` (for humans)."""
    if not urn:
        return ""
    parts = urn.split("::")
    return f"{parts[2].split('$')[-1]}::{parts[3]}" if len(parts) >= 4 else urn


def plan_document(run: PlanRun) -> dict[str, Any]:
    """The content of plan.json."""
    resources = []
    for reg in run.registrations:
        entry: dict[str, Any] = {
            "urn": reg.urn,
            "type": reg.type,
            "name": reg.name,
            "custom": reg.custom,
            "parent": reg.parent,
            "provider": reg.provider,
            "inputs": scrub(reg.inputs),
        }
        options = {
            "protect": reg.protect,
            "dependsOn": reg.dependencies,
            "replaceOnChanges": reg.replace_on_changes,
            "ignoreChanges": reg.ignore_changes,
            "additionalSecretOutputs": reg.additional_secret_outputs,
            "deleteBeforeReplace": reg.delete_before_replace,
            "retainOnDelete": reg.retain_on_delete,
            "customTimeouts": reg.custom_timeouts,
            "aliases": reg.aliases,
        }
        entry["options"] = {k: v for k, v in options.items() if v}
        resources.append(entry)
    return {
        "project": run.project,
        "stack": run.stack,
        "generator": "llmp plan (Pulumi SDK mocks; no engine, no providers, no state)",
        "outputs": scrub(run.outputs),
        "resourceCount": len(resources),
        "resources": resources,
    }


def is_manifest_type(type_token: str) -> bool:
    """True for resource types that are Kubernetes objects (not providers, Helm releases or remote components)."""
    return type_token.startswith("kubernetes:") and type_token not in _NOT_MANIFESTS


def is_manifest(reg: Registration) -> bool:
    return reg.custom and is_manifest_type(reg.type)


def manifest_of(reg: Registration) -> dict[str, Any]:
    """The Kubernetes object a registration would apply (apiVersion/kind from inputs or the type token)."""
    return manifest_from(reg.type, scrub(reg.inputs))


def manifest_from(type_token: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The Kubernetes object of a resource's (scrubbed) inputs, as `manifest_of` writes it."""
    obj = dict(inputs)
    if "apiVersion" not in obj or "kind" not in obj:
        # kubernetes:<group>/<version>:<Kind>, where group "core" is the legacy "" group.
        _, gv, kind = type_token.split(":")
        group, _, version = gv.rpartition("/")
        obj["apiVersion"] = version if group == "core" else f"{group}/{version}"
        obj["kind"] = kind
    obj = _sort_keys(obj)
    ordered = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
    ordered.update({k: v for k, v in sorted(obj.items()) if k not in ordered})
    return ordered


def _sort_keys(value: Any) -> Any:
    # Protobuf Structs do not promise key order; sorted keys keep manifests byte-identical across runs.
    if isinstance(value, dict):
        return {k: _sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sort_keys(v) for v in value]
    return value


def manifests(run: PlanRun) -> list[dict[str, Any]]:
    return [manifest_of(r) for r in run.registrations if is_manifest(r)]


def helm_releases(run: PlanRun) -> list[dict[str, Any]]:
    return [scrub(r.inputs) | {"_urn": r.urn} for r in run.registrations if r.type == "kubernetes:helm.sh/v3:Release"]


def _dump_yaml(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=120, explicit_start=True)


def write_plan(run: PlanRun, out_dir: Path) -> dict[str, Path]:
    """Write plan.json and manifests/ under `out_dir` (replacing earlier output); return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plan_path = out_dir / "plan.json"
    plan_path.write_text(json.dumps(plan_document(run), indent=2, sort_keys=True) + "\n")

    man_dir = out_dir / "manifests"
    if man_dir.exists():
        shutil.rmtree(man_dir)
    man_dir.mkdir()
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for obj in manifests(run):
        ns = (obj.get("metadata") or {}).get("namespace") or "_cluster"
        by_namespace.setdefault(ns, []).append(obj)
    for ns, docs in sorted(by_namespace.items()):
        docs.sort(key=lambda o: (o["kind"], o.get("metadata", {}).get("name", "")))
        (man_dir / f"{ns}.yaml").write_text(_dump_yaml(docs))
    return {"plan": plan_path, "manifests": man_dir}


def load_manifests(man_dir: Path, *, charts: bool = True) -> list[dict[str, Any]]:
    """Every object under a manifests/ folder, in file order: the program's own, then (unless
    `charts=False`) every rendered Helm release's under `charts/<release>/` (see llmp/charts)."""
    paths = sorted(man_dir.glob("*.yaml"))
    if charts:
        paths += sorted(man_dir.glob("charts/*/*.yaml"))
    docs: list[dict[str, Any]] = []
    for path in paths:
        docs.extend(doc.data for doc in documents(path.read_text()) if doc.data)
    return docs
