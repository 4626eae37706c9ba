"""Validate built-in Kubernetes objects against the OpenAPI schemas bundled by `kubernetes-validate`.

`kubernetes-validate` ships JSON Schemas generated from each Kubernetes release's OpenAPI document, in a
plain and a strict variant (strict closes every object, so `spec.replica` for `spec.replicas` is an
error). Its `kubernetes_validate.utils.validate()` re-reads the 1.4 MB definitions file on every call
(about 18 ms an object here) and stops at the first error, so this module uses the package's own schema
lookup (`utils.all_versions`, `utils.schema_contents`) and builds one cached validator per kind, which
reports every error. The file naming rule mirrors `utils.validate()`; the tests cross-check the verdicts
of both on the same objects, so a change of layout in a new release shows up as a test failure.

Only objects in `llmp.verify.manifests.BUILTIN_GROUPS` are checked here; custom resources return no
findings (`crd` checks them). A built-in object whose apiVersion/kind has no schema for the chosen
Kubernetes version (for example `resource.k8s.io/v1` before 1.34) is a finding: the API server would
refuse it.

Beyond the schema, two rules every API server applies to every object are checked here because the
schemas cannot express them: `metadata.name` (or `generateName`) is required, and label keys and values
must be well-formed (values at most 63 characters).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate import utils as kv
from packaging.version import Version
from referencing import Registry, Resource

from llmp.verify.manifests import Checker, Finding, is_builtin, json_path, object_id, plain, schema_findings

KUBERNETES_VERSION = "1.33"
"""The Kubernetes minor version objects are validated for, unless a caller asks for another."""

_DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = f"{_DEFINITIONS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Label syntax as the API server checks it (apimachinery validation.IsQualifiedName / IsValidLabelValue).
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def bundled_versions() -> list[str]:
    """Kubernetes versions whose schemas the installed `kubernetes-validate` bundles (`["1.25.0", ...]`)."""
    # all_versions() lists each version twice, once per plain/strict folder.
    return sorted(set(kv.all_versions()), key=Version)


def package_version() -> str:
    """The installed `kubernetes-validate` version, for reports."""
    return kubernetes_validate.__version__


def schema_version(kubernetes_version: str = KUBERNETES_VERSION) -> str:
    """The bundled schema set used for `kubernetes_version`: the newest one not newer than it.

    Raises `ValueError` naming the bundled range when the version is newer than the newest bundle or
    older than the oldest (a newer `kubernetes-validate` release is the fix for the former).
    """
    wanted = Version(kv.major_minor(kubernetes_version.lstrip("v")))
    available = bundled_versions()
    usable = [v for v in available if Version(kv.major_minor(v)) <= wanted]
    newest = Version(kv.major_minor(available[-1]))
    if not usable or wanted > newest:
        raise ValueError(
            f"kubernetes-validate {package_version()} has schemas for Kubernetes "
            f"{kv.major_minor(available[0])}..{kv.major_minor(available[-1])}, not {kubernetes_version}"
        )
    return usable[-1]


def schema_filename(obj: Mapping[str, Any]) -> str:
    """The bundled file for an object, as `kubernetes-validate` names it: `deployment-apps-v1.json`.

    The group keeps only its first label (`networking.k8s.io/v1` -> `networking-v1`); the core group has
    none (`v1` -> `service-v1.json`).
    """
    api_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", str(obj.get("apiVersion") or ""))
    return f"{str(obj.get('kind') or '').lower()}-{api_version}.json"


def _schema_dir(version: str, strict: bool) -> str:
    return f"kubernetes-json-schema/v{version}-local" + ("-strict" if strict else "")


@cache
def _registry(version: str, strict: bool) -> Registry:
    definitions = kv.schema_contents(f"{_schema_dir(version, strict)}/_definitions.json", version)
    return Resource.from_contents(definitions) @ Registry()


@cache
def _validator(version: str, strict: bool, filename: str) -> jsonschema.protocols.Validator | None:
    try:
        schema = kv.schema_contents(f"{_schema_dir(version, strict)}/{filename}", version)
    except FileNotFoundError:
        return None
    registry = Resource.from_contents(schema) @ _registry(version, strict)
    return jsonschema.Draft202012Validator(schema, registry=registry)


@cache
def _meta_validator(version: str, strict: bool) -> jsonschema.protocols.Validator:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"metadata": {"$ref": _OBJECT_META}},
    }
    return jsonschema.Draft202012Validator(schema, registry=_registry(version, strict))


def _label_problem(key: Any, value: Any) -> str | None:
    if not isinstance(key, str):
        return f"label key {key!r} must be a string"
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"label key prefix {prefix!r} must be a DNS subdomain of at most 253 characters"
    if len(name) > 63 or not _LABEL_NAME.match(name):
        return (f"label key name {name!r} must be 1-63 characters: alphanumerics, '-', '_' or '.', "
                "starting and ending with an alphanumeric")
    if value is None:
        return None
    if not isinstance(value, str):
        return f"label value {value!r} must be a string (quote it)"
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        return (f"label value {value!r} must be at most 63 characters: alphanumerics, '-', '_' or '.', "
                "starting and ending with an alphanumeric")
    return None


def _identity_findings(doc: Mapping[str, Any], checker: Checker, source: str) -> list[Finding]:
    oid = object_id(doc)
    meta = doc.get("metadata")
    out: list[Finding] = []
    if not isinstance(meta, Mapping) or not (meta.get("name") or meta.get("generateName")):
        out.append(Finding(source=source, object_id=oid, path="$.metadata",
                           message="metadata.name is required", checker=checker, rule="required"))
        return out
    labels = meta.get("labels")
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            problem = _label_problem(key, value)
            if problem:
                out.append(Finding(source=source, object_id=oid, path=json_path(["metadata", "labels", key]),
                                   message=problem, checker=checker, rule="label"))
    return out


def metadata_findings(
    obj: Mapping[str, Any],
    *,
    kubernetes_version: str = KUBERNETES_VERSION,
    strict: bool = True,
    source: str = "",
    checker: Checker = Checker.CORE_SCHEMA,
) -> list[Finding]:
    """Check only `obj["metadata"]` against `ObjectMeta` (strict by default) plus the name and label rules.

    For custom resources, whose CRD schemas type `metadata` only as `object`; `crd` calls this with
    `checker=Checker.CRD_SCHEMA`.
    """
    doc = plain(obj)
    validator = _meta_validator(schema_version(kubernetes_version), strict)
    findings = schema_findings(validator.iter_errors({"metadata": doc.get("metadata")}), doc,
                               checker=checker, source=source)
    return sorted(findings + _identity_findings(doc, checker, source))


def validate_core(
    obj: Mapping[str, Any],
    *,
    kubernetes_version: str = KUBERNETES_VERSION,
    strict: bool = True,
    source: str = "",
) -> list[Finding]:
    """Check one built-in object; return its findings (empty when it is valid).

    `kubernetes_version` picks the newest bundled schema set not newer than it (`schema_version`).
    `strict=True` (the default) rejects fields the schema does not declare, which is how typos are
    caught; `False` accepts them. Custom resources (groups outside `BUILTIN_GROUPS`) return `[]`.
    `source` is copied into every finding.
    """
    if not isinstance(obj, Mapping) or not obj.get("apiVersion") or not obj.get("kind"):
        return [Finding(source=source, object_id=object_id(obj if isinstance(obj, Mapping) else {}),
                        message="not a Kubernetes object: apiVersion and kind are required",
                        checker=Checker.CORE_SCHEMA, rule="required")]
    if not is_builtin(obj):
        return []
    version = schema_version(kubernetes_version)
    validator = _validator(version, strict, schema_filename(obj))
    if validator is None:
        return [Finding(source=source, object_id=object_id(obj), path="$.apiVersion",
                        message=(f"no schema for {obj['apiVersion']} {obj['kind']} in Kubernetes "
                                 f"{kv.major_minor(version)}: the API server does not serve it"),
                        checker=Checker.CORE_SCHEMA, rule="no-schema")]
    doc = plain(obj)
    findings = schema_findings(validator.iter_errors(doc), doc, checker=Checker.CORE_SCHEMA, source=source)
    return sorted(findings + _identity_findings(doc, Checker.CORE_SCHEMA, source))


def clear_cache() -> None:
    """Forget loaded schemas and validators."""
    _registry.cache_clear()
    _validator.cache_clear()
    _meta_validator.cache_clear()


__all__ = [
    "KUBERNETES_VERSION",
    "bundled_versions",
    "clear_cache",
    "metadata_findings",
    "package_version",
    "schema_filename",
    "schema_version",
    "validate_core",
]
