"""Validity checks for the Kubernetes objects the offline plan writes.

The plan writes every object the program would apply into `build/<stack>/manifests/*.yaml`, one object
per YAML document. This package checks those objects without a cluster and without network:

- `crd`: custom resources against the upstream CRD schemas (`crd.crd_schema_dir()`: `LLMP_CRD_SCHEMAS`,
  else `shared/crd-schemas/` beside the checkout), in strict mode, so a misspelt field is an error rather than a field the API server silently prunes.
- `core`: built-in objects (Deployments, Services, NetworkPolicies, admission policies, ...) against the
  Kubernetes OpenAPI schemas bundled by `kubernetes-validate`, strict, for one Kubernetes minor version.
- `manifests`: loads a manifests folder with file and document provenance and runs both (`validate_all`).
- `checkov_scan`: security hygiene with checkov, run from its own virtualenv because it is large and slow;
  kept out of `validate_all` for that reason.

Every check returns a list of `Finding` rather than raising, so one run reports every problem. The shared
vocabulary lives here so that `crd` and `core` agree on which objects each of them owns and report alike:
the finding type, object identity (`kind/namespace/name`), the built-in API groups, the conversion of
loaded YAML to what the API server receives (`plain`), and of jsonschema errors to findings.
"""

from __future__ import annotations

import datetime
import difflib
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

BUILTIN_GROUPS: frozenset[str] = frozenset(
    {
        "",  # the core group: apiVersion "v1"
        "apps",
        "batch",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "admissionregistration.k8s.io",
        "apiregistration.k8s.io",
        "autoscaling",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "node.k8s.io",
        "apiextensions.k8s.io",
        "certificates.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "resource.k8s.io",
    }
)
"""API groups served by kube-apiserver itself (the aggregator's `apiregistration.k8s.io` included: the
charts register APIServices). Objects in them are checked by `core`; every other group is a custom
resource checked by `crd`. Deliberately explicit: a group missing here is treated as a custom resource
and reported as "no schema" until it is added."""


class Checker(enum.StrEnum):
    """Which check produced a finding."""

    MANIFEST = "manifest"
    """Loading: unreadable YAML, a document that is not one Kubernetes object, a duplicate identity."""
    CRD_SCHEMA = "crd-schema"
    """Upstream CRD openAPIV3Schema, strict."""
    CORE_SCHEMA = "core-schema"
    """Kubernetes OpenAPI schema from kubernetes-validate, strict."""
    CHECKOV = "checkov"
    """A failed checkov check."""


@dataclass(frozen=True, kw_only=True, order=True)
class Finding:
    """One problem with one object. Ordered by provenance, then object, then path, for stable reports."""

    source: str = ""
    """Where the object came from, `"<file>#<document index>"` (0-based); empty when validated from memory."""
    object_id: str
    """`kind/namespace/name`; the namespace is empty for cluster-scoped objects (`ClusterQueue//default`)."""
    path: str = "$"
    """JSON path of the offending value inside the object (`$.spec.minReplicas`); `$` is the whole object."""
    message: str
    checker: Checker
    rule: str = ""
    """Machine-readable reason: the JSON Schema keyword (`additionalProperties`, `type`, `required`, ...),
    `no-schema`, or a checkov check id such as `CKV_K8S_20`."""

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        rule = f"{self.checker.value}/{self.rule}" if self.rule else self.checker.value
        return f"{where}{self.object_id} {self.path}: {self.message} [{rule}]"


def api_group(obj: Mapping[str, Any]) -> str:
    """The API group of an object: `"apps"` for `apps/v1`, `""` for `v1`."""
    api_version = str(obj.get("apiVersion") or "")
    group, _, _ = api_version.rpartition("/")
    return group


def is_builtin(obj: Mapping[str, Any]) -> bool:
    """True when the object's API group is served by kube-apiserver (`BUILTIN_GROUPS`)."""
    return api_group(obj) in BUILTIN_GROUPS


def object_id(obj: Mapping[str, Any]) -> str:
    """`kind/namespace/name` of an object, tolerating missing parts (they become empty strings)."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return f"{obj.get('kind') or ''}/{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def json_path(parts: Any) -> str:
    """Render a sequence of keys and indices as a JSON path: `$.spec.template['app.kubernetes.io/name']`."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{str(part)!r}]"
    return out


def plain(value: Any) -> Any:
    """A JSON-shaped copy of a loaded YAML value: dates and times become ISO strings.

    PyYAML reads YAML 1.1, where an unquoted `2024-01-01` is a `datetime.date`; Kubernetes receives that
    value as a string, so it is turned back into one before a schema says "not of type 'string'".
    Mapping keys become strings for the same reason (`1: x` is a string key on the wire).
    """
    if isinstance(value, Mapping):
        return {_plain_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _plain_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return key if isinstance(key, str) else str(plain(key))


MAX_FINDINGS_PER_OBJECT = 50
"""A badly broken object (say, a wrong top-level type) is reported by its first 50 problems."""

_MAX_MESSAGE = 300


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _unknown_keys(error: jsonschema.ValidationError) -> list[str]:
    declared = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
    patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, Mapping) else {}
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    return sorted(
        key
        for key in instance
        if key not in declared and not any(re.search(p, key) for p in patterns)
    )


def _from_error(error: jsonschema.ValidationError, oid: str, checker: Checker, source: str) -> list[Finding]:
    parts = list(error.absolute_path)
    if error.validator == "additionalProperties" and error.validator_value is False:
        declared = sorted(error.schema.get("properties", {}))
        out = []
        for key in _unknown_keys(error):
            hint = difflib.get_close_matches(key, declared, n=1)
            message = f"unknown field {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            out.append(
                Finding(source=source, object_id=oid, path=json_path([*parts, key]), message=message,
                        checker=checker, rule="additionalProperties")
            )
        if out:
            return out
    message = error.message
    if error.validator in ("anyOf", "oneOf") and error.context:
        closest = best_match(error.context)
        if closest is not None:
            message = f"{message} (closest: {closest.message})"
    return [
        Finding(source=source, object_id=oid, path=json_path(parts), message=_shorten(message),
                checker=checker, rule=str(error.validator))
    ]


def schema_findings(
    errors: Iterable[jsonschema.ValidationError], obj: Mapping[str, Any], *, checker: Checker, source: str = ""
) -> list[Finding]:
    """Turn jsonschema errors for `obj` into findings, one per unknown field, sorted by path.

    An `additionalProperties: false` failure becomes one finding per unexpected key, pointing at the key
    itself and naming the closest declared field, because that is what a typo looks like in strict mode.
    """
    oid = object_id(obj)
    out: list[Finding] = []
    for error in errors:
        out.extend(_from_error(error, oid, checker, source))
        if len(out) >= MAX_FINDINGS_PER_OBJECT:
            break
    return sorted(out)[:MAX_FINDINGS_PER_OBJECT]


__all__ = [
    "BUILTIN_GROUPS",
    "MAX_FINDINGS_PER_OBJECT",
    "Checker",
    "Finding",
    "api_group",
    "is_builtin",
    "json_path",
    "object_id",
    "plain",
    "schema_findings",
]
