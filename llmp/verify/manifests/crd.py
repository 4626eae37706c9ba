"""Validate custom resources against upstream CRD schemas, strictly.

The schema folder is laid out as `<group>/<kind-lowercase>_<version>.json`, each file the upstream
`openAPIV3Schema` of one CRD version (see `../shared/crd-schemas/README.md`). Those schemas are OpenAPI
with Kubernetes extensions, not plain JSON Schema, so each is rewritten once before use:

- `x-kubernetes-int-or-string` without a `type`/`anyOf` accepts an integer or a string;
- `nullable: true` also accepts `null`;
- strict mode closes every object that declares `properties`, has no `additionalProperties` and no
  `x-kubernetes-preserve-unknown-fields`, so an undeclared field is an error, as it is for
  `kubectl apply --validate=strict`; without it the API server silently prunes the field, which is how a
  typo such as `spec.minReplicas` (for `minReplicaCount`) ships unnoticed;
- an `x-kubernetes-embedded-resource` object keeps `apiVersion`, `kind` and `metadata` when closed.

Where the schema comes from: first the CRDs the plan itself installs (a `CrdCatalog` built from the
CustomResourceDefinitions among the rendered objects: the Helm charts' CRDs), so the schema checked is
the schema the cluster will hold; then the stored upstream schemas (`crd_schema_dir()`), for kinds whose
CRD no rendered object carries (Gateway API on GKE, the Inference Extension bundle).

Not covered (the API server or the operator's webhook still decides these): CEL rules
(`x-kubernetes-validations`), `format`, defaults, list-type uniqueness. Objects typed only as
`type: object` (no properties) stay open. Root `metadata` is checked against the Kubernetes `ObjectMeta`
schema by `core.metadata_findings`, because a CRD schema types it only as `object`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.validators import validator_for

from llmp.paths import PROJECT_ROOT
from llmp.verify.manifests import Checker, Finding, api_group, is_builtin, object_id, plain, schema_findings
from llmp.verify.manifests.core import metadata_findings

ENV_SCHEMAS = "LLMP_CRD_SCHEMAS"

NOT_STORED_RULE = "not-validated"
"""Finding rule of a custom resource in `NOT_STORED` whose schema is absent: listed, never a pass claim."""

NOT_STORED: Mapping[tuple[str, str], str] = {
    ("networking.gke.io", "GCPBackendPolicy"):
        "its CRD is installed by GKE's Gateway controller, and no schema for it is stored with the upstream "
        "CRD schemas",
    ("networking.gke.io", "HealthCheckPolicy"):
        "its CRD is installed by GKE's Gateway controller, and no schema for it is stored with the upstream "
        "CRD schemas",
}
"""Custom resource kinds (group, kind) whose CRD the cloud provider installs and whose schema is not among
the stored upstream schemas, each with why. Such an object is reported as not validated (rule
`NOT_STORED_RULE`), which `validate_all` keeps apart from findings: an explicit, visible decision per
kind. Any other custom resource without a schema stays a `no-schema` finding, and a stored schema for one
of these kinds is used as soon as it exists."""


def crd_schema_dir() -> Path:
    """Stored upstream CRD schemas: `LLMP_CRD_SCHEMAS`, else a `shared/crd-schemas/` folder beside the
    project checkout. Laid out as `<group>/<kind-lowercase>_<version>.json` (each file one CRD version's
    `openAPIV3Schema`)."""
    env = os.environ.get(ENV_SCHEMAS)
    return Path(env).resolve() if env else (PROJECT_ROOT.parent / "shared" / "crd-schemas").resolve()


# Values under these keys are data (or Kubernetes annotations), never sub-schemas: copy them untouched.
_DATA_KEYS = frozenset(
    {
        "enum",
        "const",
        "default",
        "example",
        "examples",
        "required",
        "description",
        "x-crd-source",
        "x-kubernetes-validations",
        "x-kubernetes-list-map-keys",
    }
)
# Values under these keys map names to sub-schemas.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
# What an embedded resource carries besides its declared fields.
_EMBEDDED_FIELDS = ("apiVersion", "kind", "metadata")


def to_jsonschema(node: Any, *, strict: bool = True) -> Any:
    """A copy of an `openAPIV3Schema` node that a JSON Schema validator reads the way Kubernetes does.

    `strict=True` (the default) rejects undeclared fields wherever Kubernetes would prune them; `False`
    accepts them, as plain JSON Schema does.
    """
    if isinstance(node, list):
        return [to_jsonschema(item, strict=strict) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DATA_KEYS:
            out[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: to_jsonschema(sub, strict=strict) for name, sub in value.items()}
        else:
            out[key] = to_jsonschema(value, strict=strict)

    if out.get("x-kubernetes-int-or-string") and "type" not in out and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]

    closable = (
        out.get("type") == "object"
        and isinstance(out.get("properties"), dict)
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    )
    if strict and closable:
        if out.get("x-kubernetes-embedded-resource"):
            for field in _EMBEDDED_FIELDS:
                out["properties"].setdefault(field, {})
        out["additionalProperties"] = False

    if out.pop("nullable", False) is True:
        # The wrapper keeps the original node intact (and closed) under anyOf.
        out = {"anyOf": [{"type": "null"}, out]}
    return out


def schema_file(obj: Mapping[str, Any], schema_dir: Path | None = None) -> Path:
    """Where the schema for `obj` lives: `<dir>/<group>/<kind-lowercase>_<version>.json`."""
    base = Path(schema_dir) if schema_dir is not None else crd_schema_dir()
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    return base / group / f"{str(obj.get('kind') or '').lower()}_{version}.json"


@cache
def _load(path: Path, strict: bool) -> jsonschema.protocols.Validator:
    raw = json.loads(path.read_text(encoding="utf-8"))
    schema = to_jsonschema(raw, strict=strict)
    # check_schema() is left to the tests: it costs 0.8 s on the LeaderWorkerSet schema, per process.
    return validator_for(schema, default=jsonschema.Draft202012Validator)(schema)


def load_validator(path: Path, *, strict: bool = True) -> jsonschema.protocols.Validator:
    """The (cached) validator for one schema file. Raises `OSError`/`ValueError` for an unreadable file;
    `check_schema(load_validator(p).schema)` proves the converted schema is valid JSON Schema."""
    return _load(Path(path).resolve(), strict)


@dataclass(frozen=True)
class CrdVersion:
    """One served version of a CRD the plan installs."""

    group: str
    kind: str
    version: str
    scope: str
    schema: Mapping[str, Any]
    source: str
    """The CRD object that declared it (`CustomResourceDefinition//<name>`)."""


@dataclass
class CrdCatalog:
    """The CRDs among a set of rendered objects: (group, kind, version) -> schema."""

    versions: dict[tuple[str, str, str], CrdVersion] = field(default_factory=dict)
    _validators: dict[tuple[str, str, str, bool], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_objects(cls, objects: Iterable[Mapping[str, Any]]) -> CrdCatalog:
        catalog = cls()
        for obj in objects:
            if obj.get("kind") != "CustomResourceDefinition" or api_group(obj) != "apiextensions.k8s.io":
                continue
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind", "")
            for version in spec.get("versions") or []:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if version.get("served", True) and isinstance(schema, Mapping):
                    key = (spec.get("group", ""), kind, version.get("name", ""))
                    catalog.versions[key] = CrdVersion(*key, spec.get("scope", "Namespaced"), schema, object_id(obj))
        return catalog

    @property
    def groups(self) -> set[str]:
        return {group for group, _, _ in self.versions}

    def lookup(self, obj: Mapping[str, Any]) -> CrdVersion | None:
        group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
        return self.versions.get((group, str(obj.get("kind") or ""), version))

    def validator(self, entry: CrdVersion, strict: bool) -> Any:
        key = (entry.group, entry.kind, entry.version, strict)
        if key not in self._validators:
            schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                      **to_jsonschema(dict(entry.schema), strict=strict),
                      "x-crd-source": {"kind": entry.kind, "scope": entry.scope}}
            self._validators[key] = jsonschema.Draft202012Validator(schema)
        return self._validators[key]


def has_schema(obj: Mapping[str, Any], schema_dir: Path | None = None) -> bool:
    """True when the schema folder holds a schema for the object's group, kind and version."""
    return schema_file(obj, schema_dir).is_file()


def validate_custom_resource(
    obj: Mapping[str, Any],
    *,
    schema_dir: Path | None = None,
    strict: bool = True,
    source: str = "",
    catalog: CrdCatalog | None = None,
) -> list[Finding]:
    """Check one custom resource; return its findings (empty when it fits its schema).

    `catalog` (the CRDs the plan installs) is consulted first; `schema_dir` (default `crd_schema_dir()`)
    after it. Objects in a built-in API
    group (`llmp.verify.manifests.BUILTIN_GROUPS`) are not custom resources: they return no findings here
    (`core` checks them). A custom resource whose group/kind/version has no schema file is itself a
    finding (`rule="no-schema"`): an unchecked custom resource must be a visible decision, not a gap.
    `source` is copied into every finding (for example `"10-serving.yaml#3"`).
    """
    oid = object_id(obj) if isinstance(obj, Mapping) else ""

    def finding(message: str, rule: str, path: str = "$") -> list[Finding]:
        return [Finding(source=source, object_id=oid, path=path, message=message,
                        checker=Checker.CRD_SCHEMA, rule=rule)]

    if not isinstance(obj, Mapping) or not obj.get("apiVersion") or not obj.get("kind"):
        return finding("not a Kubernetes object: apiVersion and kind are required", "required")
    if is_builtin(obj):
        return []
    api_version = str(obj["apiVersion"])
    if "/" not in api_version:
        return finding(f"apiVersion {api_version!r} has no group, so it is not a custom resource", "no-schema")

    entry = catalog.lookup(obj) if catalog is not None else None
    if entry is not None:
        validator = catalog.validator(entry, strict)
        return _check(obj, validator, source)
    if catalog is not None and api_group(obj) in catalog.groups:
        known = sorted(f"{k}/{v}" for g, k, v in catalog.versions if g == api_group(obj))
        return finding(f"{api_version} {obj['kind']} is not served by the CRDs this plan installs for "
                       f"{api_group(obj)} ({', '.join(known)})", "no-schema")
    path = schema_file(obj, schema_dir)
    if not path.is_file() and (reason := NOT_STORED.get((api_group(obj), str(obj["kind"])))):
        return finding(f"not validated: {api_version} {obj['kind']}: {reason}", NOT_STORED_RULE)
    if not path.is_file():
        base = path.parent.parent
        where = f"in {base}" if base.is_dir() else f"because the schema folder {base} does not exist"
        return finding(
            f"no schema for {api_version} {obj['kind']}: no CRD the plan installs declares it and no stored "
            f"schema exists {where}; put its CRD version's openAPIV3Schema at {api_group(obj)}/{path.name} in a "
            f"folder named by {ENV_SCHEMAS}",
            "no-schema",
        )

    try:
        validator = load_validator(path, strict=strict)
    except (OSError, ValueError, jsonschema.SchemaError) as exc:
        return finding(f"schema {path} cannot be used: {exc}", "bad-schema")
    return _check(obj, validator, source)


def _check(obj: Mapping[str, Any], validator: Any, source: str) -> list[Finding]:
    def finding(message: str, rule: str, path: str = "$") -> list[Finding]:
        return [Finding(source=source, object_id=object_id(obj), path=path, message=message,
                        checker=Checker.CRD_SCHEMA, rule=rule)]

    upstream_kind = validator.schema.get("x-crd-source", {}).get("kind")
    if upstream_kind and obj["kind"] != upstream_kind:
        return finding(f"kind {obj['kind']!r} is spelt {upstream_kind!r} upstream", "kind", "$.kind")

    doc = plain(obj)
    findings = schema_findings(validator.iter_errors(doc), doc, checker=Checker.CRD_SCHEMA, source=source)
    findings += _metadata_findings(doc, validator, source)
    return sorted(findings)


def _metadata_findings(doc: Mapping[str, Any], validator: Any, source: str) -> list[Finding]:
    found = metadata_findings(doc, source=source, checker=Checker.CRD_SCHEMA)
    scope = validator.schema.get("x-crd-source", {}).get("scope")
    meta = doc.get("metadata")
    if scope == "Cluster" and isinstance(meta, Mapping) and meta.get("namespace"):
        found.append(
            Finding(source=source, object_id=object_id(doc), path="$.metadata.namespace",
                    message=f"{doc['kind']} is cluster-scoped; a namespace has no meaning here",
                    checker=Checker.CRD_SCHEMA, rule="scope")
        )
    return found


def clear_cache() -> None:
    """Forget loaded validators (tests that rewrite schema files call this)."""
    _load.cache_clear()


__all__ = [
    "CrdCatalog",
    "CrdVersion",
    "clear_cache",
    "crd_schema_dir",
    "has_schema",
    "load_validator",
    "schema_file",
    "to_jsonschema",
    "validate_custom_resource",
]
