"""Load a plan's manifests folder and validate every object in it.

The offline plan writes `build/<stack>/manifests/*.yaml`, one Kubernetes object per YAML document, over
several files. `load_manifests` reads them in file-name order and keeps where each object came from
(file, 0-based document index, first line); `validate_all` then checks custom resources with `crd` and
built-in objects with `core`, and returns one `ValidationReport`. checkov is not part of it (it needs its
own virtualenv and takes seconds): see `checkov_scan`.

YAML is read the way the API server receives it as far as that matters for validation: timestamps stay
strings (PyYAML would make `2024-01-01` a date), and a key repeated inside one mapping is reported, since
kubectl rejects it while PyYAML silently keeps the last value. `yes`/`no`/`on`/`off` still load as booleans,
as they do for kubectl.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmplatform.k8s.yaml_docs import documents
from llmp.verify.manifests import Checker, Finding, api_group, core, crd, is_builtin, object_id

MANIFEST_PATTERNS = ("*.yaml", "*.yml", "charts/*/*.yaml", "charts/*/*.yml")
"""Files read from a manifests folder: the program's own objects, then each rendered Helm release's
(`charts/<release>/`, written by `llmp plan`)."""


@dataclass(frozen=True, kw_only=True)
class ManifestObject:
    """One object read from a manifests file."""

    file: Path
    """The file, relative to the manifests folder."""
    index: int
    """0-based position of the document in its file (empty documents count)."""
    line: int
    """1-based line where the document's content starts."""
    obj: dict[str, Any]

    @property
    def source(self) -> str:
        """`"<file>#<index>"`, the provenance carried by every finding about this object."""
        return f"{self.file.as_posix()}#{self.index}"

    @property
    def object_id(self) -> str:
        """`kind/namespace/name`."""
        return object_id(self.obj)


def _finding(source: str, message: str, rule: str, oid: str = "", path: str = "$") -> Finding:
    return Finding(source=source, object_id=oid, path=path, message=message, checker=Checker.MANIFEST, rule=rule)


def _shape_problem(obj: Any) -> str | None:
    if not isinstance(obj, Mapping):
        return f"a document must be one Kubernetes object (a mapping), got {type(obj).__name__}"
    missing = [key for key in ("apiVersion", "kind") if not isinstance(obj.get(key), str) or not obj.get(key)]
    if missing:
        return f"{' and '.join(missing)} must be non-empty strings"
    if obj["kind"].endswith("List") and "items" in obj:
        return f"{obj['kind']} holds several objects; the plan writes one object per document"
    return None


def load_file(path: Path, *, root: Path | None = None) -> tuple[list[ManifestObject], list[Finding]]:
    """Objects in one YAML file and the problems met reading it (unreadable YAML, non-objects, repeated
    keys). `root` makes `ManifestObject.file` relative (defaults to the file's folder)."""
    rel = path.relative_to(root) if root is not None else Path(path.name)
    objects: list[ManifestObject] = []
    problems: list[Finding] = []
    index = 0
    try:
        for document in documents(path.read_text(encoding="utf-8")):
            index = document.index
            source = f"{rel.as_posix()}#{index}"
            doc = document.data
            for line, key in document.duplicate_keys:
                problems.append(_finding(source, f"key {key!r} appears twice in one mapping (line {line}); "
                                                 "kubectl rejects this", "duplicate-key",
                                         object_id(doc) if isinstance(doc, Mapping) else ""))
            if doc is not None:
                problem = _shape_problem(doc)
                if problem:
                    problems.append(_finding(source, problem, "not-an-object",
                                             object_id(doc) if isinstance(doc, Mapping) else ""))
                else:
                    objects.append(ManifestObject(file=rel, index=index, line=document.line, obj=doc))
            index += 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problems.append(_finding(f"{rel.as_posix()}#{index}", f"unreadable YAML{where}: {exc}", "yaml"))
    return objects, problems


def manifest_files(directory: Path) -> list[Path]:
    """The files `load_manifests` reads, in the order it reads them (the program's own first)."""
    directory = Path(directory)
    found = {p for pattern in MANIFEST_PATTERNS for p in directory.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: (len(p.relative_to(directory).parts), p))


def provenance_key(finding: Finding) -> tuple[str, int, Finding]:
    """Sort key putting findings in file order, then document order (`a.yaml#2` before `a.yaml#10`)."""
    file, _, index = finding.source.rpartition("#")
    return (file, int(index), finding) if index.isdigit() else (finding.source, -1, finding)


def load_manifests(directory: Path) -> tuple[list[ManifestObject], list[Finding]]:
    """Every object in `directory/*.yaml` (and `*.yml`), in file-name order, plus loading problems.

    Two documents with the same identity (API group, kind, namespace, name) are a problem too: the second
    would overwrite the first when applied.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return [], [_finding(str(directory), f"manifests folder {directory} does not exist; run the plan first",
                             "missing")]
    objects: list[ManifestObject] = []
    problems: list[Finding] = []
    for path in manifest_files(directory):
        found, trouble = load_file(path, root=directory)
        objects += found
        problems += trouble
    first_seen: dict[tuple[str, str, str, str], ManifestObject] = {}
    for item in objects:
        meta = item.obj.get("metadata") if isinstance(item.obj.get("metadata"), Mapping) else {}
        key = (api_group(item.obj), item.obj["kind"], str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        if not key[3]:
            continue  # a missing name is reported by the schema checks
        if key in first_seen:
            problems.append(_finding(item.source, f"same object as {first_seen[key].source}", "duplicate-object",
                                     item.object_id))
        else:
            first_seen[key] = item
    return objects, problems


def validate_objects(
    objects: Iterable[ManifestObject],
    *,
    kubernetes_version: str = core.KUBERNETES_VERSION,
    crd_schema_dir: Path | None = None,
    strict: bool = True,
    catalog: crd.CrdCatalog | None = None,
) -> list[Finding]:
    """Findings for already loaded objects: built-in ones by `core`, custom resources by `crd`.

    `catalog` defaults to the CRDs among `objects` (what the plan installs), consulted before the stored
    schemas."""
    objects = list(objects)
    if catalog is None:
        catalog = crd.CrdCatalog.from_objects(item.obj for item in objects)
    findings: list[Finding] = []
    for item in objects:
        if is_builtin(item.obj):
            findings += core.validate_core(item.obj, kubernetes_version=kubernetes_version, strict=strict,
                                           source=item.source)
        else:
            findings += crd.validate_custom_resource(item.obj, schema_dir=crd_schema_dir, strict=strict,
                                                     source=item.source, catalog=catalog)
    return findings


@dataclass(frozen=True, kw_only=True)
class ValidationReport:
    """The outcome of `validate_all` for one manifests folder."""

    manifests_dir: Path
    objects: tuple[ManifestObject, ...]
    findings: tuple[Finding, ...]
    kubernetes_version: str
    crd_schema_dir: Path
    strict: bool
    seconds: float
    files: tuple[Path, ...] = field(default=())
    not_validated: tuple[Finding, ...] = field(default=())
    """Custom resources of a kind in `crd.NOT_STORED` with no schema: unchecked by decision, not findings."""

    @property
    def ok(self) -> bool:
        """True when no check found anything."""
        return not self.findings

    @property
    def builtin_count(self) -> int:
        """Objects checked by `core`."""
        return sum(1 for item in self.objects if is_builtin(item.obj))

    @property
    def custom_count(self) -> int:
        """Objects checked by `crd`."""
        return len(self.objects) - self.builtin_count

    def by_checker(self) -> dict[Checker, list[Finding]]:
        """Findings grouped by the check that produced them (checks with none are absent)."""
        out: dict[Checker, list[Finding]] = {}
        for finding in self.findings:
            out.setdefault(finding.checker, []).append(finding)
        return out

    def summary(self) -> str:
        """One line: how much was checked, against what, and how many findings."""
        mode = "strict" if self.strict else "lenient"
        return (
            f"{len(self.objects)} objects in {len(self.files)} files ({self.builtin_count} built-in checked "
            f"for Kubernetes {self.kubernetes_version}, {self.custom_count} custom resources against "
            f"{self.crd_schema_dir}), {mode}: {len(self.findings)} findings in {self.seconds:.2f} s"
            + (f"; {len(self.not_validated)} not validated (no stored schema: "
               f"{', '.join(sorted({f.object_id.split('/')[0] for f in self.not_validated}))})"
               if self.not_validated else "")
        )

    def format(self) -> str:
        """The summary followed by one line per finding."""
        return "\n".join([self.summary(), *(f"  {finding}" for finding in self.findings)])


def validate_all(
    directory: Path,
    *,
    kubernetes_version: str = core.KUBERNETES_VERSION,
    crd_schema_dir: Path | None = None,
    strict: bool = True,
) -> ValidationReport:
    """Load `directory/*.yaml` and check every object; never raises for a bad manifest.

    Custom resources are checked against the CRDs among the loaded objects first (the rendered charts'),
    then against `crd_schema_dir` (default `crd.crd_schema_dir()`). `strict=True` (the default)
    rejects undeclared fields in both built-in objects and custom resources.
    """
    started = time.perf_counter()
    directory = Path(directory)
    schema_dir = Path(crd_schema_dir) if crd_schema_dir is not None else crd.crd_schema_dir()
    objects, problems = load_manifests(directory)
    findings = problems + validate_objects(objects, kubernetes_version=kubernetes_version,
                                           crd_schema_dir=schema_dir, strict=strict)
    files = tuple(path.relative_to(directory) for path in manifest_files(directory)) if directory.is_dir() else ()
    not_validated = [f for f in findings if f.rule == crd.NOT_STORED_RULE]
    return ValidationReport(
        manifests_dir=directory,
        objects=tuple(objects),
        findings=tuple(sorted((f for f in findings if f.rule != crd.NOT_STORED_RULE), key=provenance_key)),
        not_validated=tuple(sorted(not_validated, key=provenance_key)),
        kubernetes_version=kubernetes_version,
        crd_schema_dir=schema_dir,
        strict=strict,
        seconds=time.perf_counter() - started,
        files=files,
    )


__all__ = [
    "MANIFEST_PATTERNS",
    "ManifestObject",
    "ValidationReport",
    "load_file",
    "load_manifests",
    "manifest_files",
    "provenance_key",
    "validate_all",
    "validate_objects",
]
