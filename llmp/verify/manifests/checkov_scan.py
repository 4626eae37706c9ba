"""Security hygiene of the planned manifests with checkov, run from its own virtualenv.

checkov is about 288 MB with a dependency tree that conflicts with the project's, so it lives in
`<repo>/.venv-checkov`, created on first use by `ensure_checkov()` (pinned `CHECKOV_VERSION`; a marker
file records a finished install, so later calls cost nothing). `scan()` runs it as a subprocess,
offline (`--skip-download`: no policy metadata or guideline download), for the Kubernetes framework
only, and turns its JSON into `Finding`s.

Accepted exceptions are written on the object itself, with checkov's own annotation:

    metadata:
      annotations:
        checkov.io/skip1: CKV_K8S_43=images are pinned by tag and promoted by CI

checkov honours these natively and reports them as skipped with the text after `=` as the reason; the
report keeps that list (`CheckovReport.skipped`) so a document can show every accepted risk and why.
Quirks of checkov 3.3.x that this module guards against (verified with 3.3.30):

- a reason containing `=` makes checkov crash on the whole folder (it splits the value on every `=`):
  `skip_annotation_problems()` reports such annotations, and `scan()` refuses to run while any exist;
- a skip with no reason is accepted by checkov ("No comment provided"): reported here as a finding,
  since an undocumented exception is not an exception;
- a skip whose check never ran on the object (a misspelt id, or a check that does not apply) is silently
  ignored by checkov: reported in `CheckovReport.unused_skips`;
- `--quiet` drops the skipped checks from the JSON, so it is not used (stdout stays pure JSON anyway);
- unreadable YAML is skipped silently, with zero parsing errors: `manifests.load_manifests` is the
  check for that, and a scan that reads no resource from a folder holding objects is a finding;
- a file whose text contains `{{ .Values.` or `{{ .Release.` is skipped whole, silently (checkov takes
  it for an unrendered Helm template, `kubernetes/parser/k8_yaml.py`). Rendered charts carry such text
  inside ConfigMap data (istiod's sidecar-injector templates), which hid every other object of that
  file, the istiod Deployment included. `scan()` therefore runs checkov on a copy of the folder in
  which those characters are altered in place (`Values` -> `Va1ues`, same length, same lines, only
  inside the text that triggers the heuristic), and reports any workload that checkov still returned
  no result for (rule `not-checked`), so an object can never pass by not being read.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmp.paths import PROJECT_ROOT as REPO_ROOT
from llmp.verify import memo
from llmp.verify.manifests import Checker, Finding, json_path
from llmp.verify.manifests.manifests import ManifestObject, load_manifests, provenance_key

CHECKOV_VERSION = "3.3.30"
"""The pinned checkov release. Changing it reinstalls `.venv-checkov` on the next `ensure_checkov()`."""

SKIP_ANNOTATION_PREFIX = "checkov.io/skip"
"""Annotations `checkov.io/skip1`, `checkov.io/skip2`, ... each hold `<CHECK_ID>=<reason>`."""

SKIP_CRASH_RULE = "skip-annotation-crash"
"""Finding rule for a skip reason containing `=`; `scan()` does not start checkov while one exists."""

NOT_CHECKED_RULE = "not-checked"
"""Finding rule for a workload checkov returned no result for (it did not read the object)."""

WORKLOAD_KINDS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"})
"""Kinds every checkov container check applies to: each must come back with results."""

_MARKER = ".llmp-checkov-installed"
_CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
_FOLDER_TOKEN = "@@LLMP_CHECKOV_FOLDER@@"
"""Stands for the scanned folder in cached checkov output (the cache is keyed by content, not place)."""
_HELM_TEMPLATE_TEXT = re.compile(r"(\{\{-?\s*\.)(Values|Release)(\.)")
"""checkov 3.3.30's test for an unrendered Helm template (`k8_yaml.load`): it skips the whole file."""
_DEFANGED = {"Values": "Va1ues", "Release": "Re1ease"}


class CheckovUnavailable(RuntimeError):
    """checkov could not be installed or started (no network for the first install, pip failure, ...)."""


class CheckovFailed(RuntimeError):
    """checkov ran but did not produce a report (a crash, or output that is not its JSON)."""


def default_venv() -> Path:
    """`<repo>/.venv-checkov`, or `LLMP_CHECKOV_VENV` when set."""
    env = os.environ.get("LLMP_CHECKOV_VENV")
    return Path(env).resolve() if env else REPO_ROOT / ".venv-checkov"


def checkov_executable(venv: Path | None = None) -> Path:
    """Where the checkov entry point is (or will be) inside the virtualenv."""
    return (venv or default_venv()) / "bin" / "checkov"


def checkov_installed(venv: Path | None = None) -> bool:
    """True when the virtualenv holds a finished install of `CHECKOV_VERSION` (no subprocess started)."""
    venv = venv or default_venv()
    marker = venv / _MARKER
    return (
        marker.is_file()
        and marker.read_text(encoding="utf-8").strip() == CHECKOV_VERSION
        and checkov_executable(venv).is_file()
    )


@contextlib.contextmanager
def _install_lock(venv: Path) -> Iterator[None]:
    # Parallel test workers may all ask for checkov at once; one installs, the others wait. The lock
    # lives in the temp folder so the checkout gains no stray files.
    digest = hashlib.sha256(str(venv).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"llmp-checkov-{digest}.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_logged(command: list[str], log: Path, timeout: float) -> None:
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        try:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CheckovUnavailable(f"{command[0]} failed: {exc} (log: {log})") from exc
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        raise CheckovUnavailable(
            f"`{' '.join(command)}` exited {done.returncode}; last lines of {log}:\n" + "\n".join(tail)
        )


def ensure_checkov(venv: Path | None = None, *, timeout: float = 1200.0) -> Path:
    """Return the checkov executable, installing `checkov==CHECKOV_VERSION` into `venv` first if needed.

    `venv` defaults to `default_venv()` (`<repo>/.venv-checkov`). The first call creates the virtualenv
    with the running interpreter's `venv` module and pip-installs checkov from the package index (about
    290 MB; needs network); later calls only read the marker file. A virtualenv left without a marker by
    an interrupted install, or holding another version, is deleted and rebuilt. The install log is
    `<venv>/llmp-install.log`. Raises `CheckovUnavailable` with pip's last lines when the install fails.
    """
    venv = Path(venv or default_venv()).resolve()
    if checkov_installed(venv):
        return checkov_executable(venv)
    with _install_lock(venv):
        if checkov_installed(venv):  # another process finished while we waited
            return checkov_executable(venv)
        if venv.exists():
            if not (venv / "pyvenv.cfg").is_file():
                raise CheckovUnavailable(f"{venv} exists and is not a virtualenv; move it away")
            shutil.rmtree(venv)
        venv.mkdir(parents=True)
        log = venv / "llmp-install.log"
        log.write_text(f"installing checkov=={CHECKOV_VERSION} into {venv}\n", encoding="utf-8")
        _run_logged([sys.executable, "-m", "venv", str(venv)], log, timeout)
        _run_logged(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
             "--no-input", f"checkov=={CHECKOV_VERSION}"],
            log,
            timeout,
        )
        if not checkov_executable(venv).is_file():
            raise CheckovUnavailable(f"pip installed checkov but {checkov_executable(venv)} is missing")
        (venv / _MARKER).write_text(CHECKOV_VERSION + "\n", encoding="utf-8")
    return checkov_executable(venv)


@dataclass(frozen=True, kw_only=True, order=True)
class SkippedCheck:
    """A check that checkov skipped because the object carries a `checkov.io/skipN` annotation."""

    object_id: str
    """`kind/namespace/name` of the annotated object."""
    check_id: str
    """For example `CKV_K8S_43`."""
    check_name: str
    """checkov's title for the check, for example "Image should use digest"."""
    reason: str
    """The text after `=` in the annotation."""
    source: str = ""
    """`"<file>#<document index>"` of the object, when it was matched to a manifest."""
    scope: str = "annotation"
    """`annotation` (checkov applied the object's own skip), `tier:<name>`
    (`llmp.verify.manifests.checkov_accept.accept_for_tier`) or `chart:<release>` (`accept_for_charts`)."""

    @property
    def resource(self) -> str:
        """Same as `object_id` (the name `llmp.verify` reads)."""
        return self.object_id


@dataclass(frozen=True, kw_only=True)
class CheckovReport:
    """What one checkov run found in one manifests folder."""

    manifests_dir: Path
    findings: tuple[Finding, ...]
    """Failed checks, parse errors, and problems with skip annotations."""
    skipped: tuple[SkippedCheck, ...]
    """Accepted exceptions, as checkov applied them."""
    unused_skips: tuple[SkippedCheck, ...] = ()
    """Skip annotations that skipped nothing (misspelt id, or the check does not apply to the object)."""
    summary: Mapping[str, Any] = field(default_factory=dict)
    """checkov's own counts: passed, failed, skipped, parsing_errors, resource_count, checkov_version."""
    seconds: float = 0.0
    command: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing failed (skipped checks are accepted)."""
        return not self.findings

    @property
    def failed(self) -> tuple[Finding, ...]:
        """Same as `findings`: failed checks and skip-annotation problems."""
        return self.findings

    @property
    def passed_count(self) -> int:
        """How many (check, resource) pairs passed, by checkov's count."""
        return int(self.summary.get("passed", 0))

    @property
    def version(self) -> str:
        """The checkov version that ran (from its report), else the pinned one."""
        return str(self.summary.get("checkov_version") or CHECKOV_VERSION)

    def failed_check_ids(self) -> set[str]:
        """Ids of the checks that failed at least once."""
        return {f.rule for f in self.findings if f.rule.startswith("CKV")}

    def skips_markdown(self) -> str:
        """The accepted exceptions as a Markdown table (object, check, reason) for a report."""
        rows = ["| object | check | reason |", "|---|---|---|"]
        for skip in sorted(self.skipped):
            reason = skip.reason.replace("|", "\\|")
            rows.append(f"| `{skip.object_id}` | {skip.check_id} {skip.check_name} | {reason} |")
        return "\n".join(rows)

    def format(self) -> str:
        """A summary line, the findings, then the skipped checks."""
        counts = ", ".join(f"{k} {self.summary.get(k, 0)}" for k in ("passed", "failed", "skipped", "resource_count"))
        lines = [f"checkov {self.summary.get('checkov_version', '?')} on {self.manifests_dir}: {counts}; "
                 f"{len(self.findings)} findings in {self.seconds:.1f} s"]
        lines += [f"  {finding}" for finding in self.findings]
        lines += [f"  skipped {s.check_id} on {s.object_id}: {s.reason}" for s in sorted(self.skipped)]
        lines += [f"  unused skip {s.check_id} on {s.object_id}: {s.reason}" for s in sorted(self.unused_skips)]
        return "\n".join(lines)


def declared_skips(objects: Iterable[ManifestObject]) -> list[SkippedCheck]:
    """Every `checkov.io/skipN` annotation on the objects, parsed as `<CHECK_ID>=<reason>`."""
    out = []
    for item in objects:
        annotations = (item.obj.get("metadata") or {}).get("annotations") or {}
        for key, value in sorted(annotations.items()):
            if SKIP_ANNOTATION_PREFIX in str(key):
                check_id, _, reason = str(value).partition("=")
                out.append(SkippedCheck(object_id=item.object_id, check_id=check_id.strip(), check_name="",
                                        reason=reason.strip(), source=item.source))
    return out


def skip_annotation_problems(objects: Iterable[ManifestObject]) -> list[Finding]:
    """Skip annotations that checkov would crash on, or that do not say why.

    `CKV_K8S_43=a=b` crashes checkov 3.3.x for the whole folder, so it is an error found before running it.
    """
    problems = []
    for item in objects:
        annotations = (item.obj.get("metadata") or {}).get("annotations") or {}
        for key, value in sorted(annotations.items()):
            if SKIP_ANNOTATION_PREFIX not in str(key):
                continue
            path = json_path(["metadata", "annotations", key])
            check_id, sep, reason = str(value).partition("=")
            problem, rule = None, "skip-annotation"
            if not _CHECK_ID.match(check_id.strip()):
                problem = f"{value!r} does not start with a checkov check id such as CKV_K8S_43"
            elif not sep or not reason.strip():
                problem = f"skip of {check_id} gives no reason; write `{check_id}=<why this is acceptable>`"
            elif "=" in reason:
                problem = f"the reason for skipping {check_id} contains '=', which crashes checkov; reword it"
                rule = SKIP_CRASH_RULE
            if problem:
                problems.append(Finding(source=item.source, object_id=item.object_id, path=path, message=problem,
                                        checker=Checker.CHECKOV, rule=rule))
    return problems


def _object_for(record: Mapping[str, Any], by_file: Mapping[str, list[ManifestObject]]) -> ManifestObject | None:
    file = str(record.get("file_path") or "").lstrip("/")
    start, end = (list(record.get("file_line_range") or [0, 0]) + [0, 0])[:2]
    for item in by_file.get(file, []):
        if start <= item.line <= max(end, start):
            return item
    return None


def _resource_id(resource: str) -> str:
    # checkov names resources "<Kind>.<namespace>.<name>"; names may contain dots, kinds and namespaces not.
    kind, _, rest = resource.partition(".")
    namespace, _, name = rest.partition(".")
    return f"{kind}/{namespace}/{name}"


def _record_path(record: Mapping[str, Any], obj: Mapping[str, Any] | None) -> str:
    for key in (record.get("check_result") or {}).get("evaluated_keys") or []:
        parts = [p for p in str(key).split("/") if p]
        if not parts or (obj is not None and parts[0] not in obj) or parts[0] == "resource_type":
            continue
        return json_path(int(p[1:-1]) if re.fullmatch(r"\[\d+\]", p) else p for p in parts)
    return "$"


def _reports(data: Any) -> list[Mapping[str, Any]]:
    reports = data if isinstance(data, list) else [data]
    return [r for r in reports if isinstance(r, Mapping)]


def parse_report(data: Any, objects: Iterable[ManifestObject] = ()) -> tuple[list[Finding], list[SkippedCheck], dict]:
    """Findings, skipped checks and summed counts from checkov's JSON (`-o json`, not `--quiet`).

    `objects` (from `load_manifests`) lets each record point at its source document; without them the
    object identity comes from checkov's resource name. Accepts checkov's three shapes: one report, a
    list of reports, or a bare summary when no resource was found.
    """
    by_file: dict[str, list[ManifestObject]] = {}
    for item in objects:
        by_file.setdefault(item.file.as_posix(), []).append(item)
    findings: list[Finding] = []
    skipped: list[SkippedCheck] = []
    summary: dict[str, Any] = {}
    for report in _reports(data):
        counts = report.get("summary") if "summary" in report else report
        for key, value in counts.items():
            summary[key] = summary.get(key, 0) + value if isinstance(value, int) else value
        results = report.get("results") or {}
        for record in results.get("failed_checks") or []:
            item = _object_for(record, by_file)
            oid = item.object_id if item else _resource_id(str(record.get("resource", "")))
            resource = str(record.get("resource", ""))
            # checkov also checks a Pod it derives from each workload, named after all its labels: name the kind only.
            derived = "" if item is None or item.object_id == _resource_id(resource) \
                else f" (on the {resource.partition('.')[0]} checkov derives from it)"
            findings.append(Finding(
                source=item.source if item else str(record.get("file_path", "")).lstrip("/"),
                object_id=oid,
                path=_record_path(record, item.obj if item else None),
                message=f"{record.get('check_name', record.get('check_id'))}{derived}",
                checker=Checker.CHECKOV,
                rule=str(record.get("check_id", "")),
            ))
        for record in results.get("skipped_checks") or []:
            item = _object_for(record, by_file)
            skipped.append(SkippedCheck(
                object_id=item.object_id if item else _resource_id(str(record.get("resource", ""))),
                check_id=str(record.get("check_id", "")),
                check_name=str(record.get("check_name", "")),
                reason=str((record.get("check_result") or {}).get("suppress_comment") or ""),
                source=item.source if item else "",
            ))
        for path in results.get("parsing_errors") or []:
            findings.append(Finding(source=str(path), object_id="", message="checkov could not parse this file",
                                    checker=Checker.CHECKOV, rule="parsing-error"))
    # Derived resources (the Pod checkov builds from a Deployment) repeat their parent's skips.
    return findings, sorted(set(skipped)), summary


def defang_helm_text(text: str) -> str:
    """`text` with every `{{ .Values.` / `{{ .Release.` altered in place (same length, same lines), so
    that checkov reads the file instead of skipping it as an unrendered Helm template."""
    return _HELM_TEMPLATE_TEXT.sub(lambda m: m.group(1) + _DEFANGED[m.group(2)] + m.group(3), text)


@contextlib.contextmanager
def _checkov_input(manifests_dir: Path) -> Iterator[Path]:
    """The folder checkov should read: `manifests_dir` itself, or a copy with Helm-looking text defanged."""
    hit = [f for f in sorted(manifests_dir.rglob("*")) if f.suffix in (".yaml", ".yml") and f.is_file()
           and _HELM_TEMPLATE_TEXT.search(f.read_text(encoding="utf-8", errors="replace"))]
    if not hit:
        yield manifests_dir
        return
    with tempfile.TemporaryDirectory(prefix="llmp-checkov-") as tmp:
        copy = Path(tmp) / "manifests"
        shutil.copytree(manifests_dir, copy)
        for file in hit:
            target = copy / file.relative_to(manifests_dir)
            target.write_text(defang_helm_text(file.read_text(encoding="utf-8")), encoding="utf-8")
        yield copy


def checked_objects(data: Any, objects: Iterable[ManifestObject]) -> set[str]:
    """Sources (`<file>#<index>`) of the objects checkov returned at least one result for (passed,
    failed or skipped), from its JSON."""
    by_file: dict[str, list[ManifestObject]] = {}
    for item in objects:
        by_file.setdefault(item.file.as_posix(), []).append(item)
    seen: set[str] = set()
    for report in _reports(data):
        results = report.get("results") or {}
        for key in ("passed_checks", "failed_checks", "skipped_checks"):
            for record in results.get(key) or []:
                item = _object_for(record, by_file)
                if item is not None:
                    seen.add(item.source)
    return seen


def scan(
    manifests_dir: Path,
    *,
    executable: Path | None = None,
    timeout: float = 900.0,
    extra_args: Iterable[str] = (),
) -> CheckovReport:
    """Run checkov on `manifests_dir` and return its findings and accepted skips.

    `executable` defaults to `ensure_checkov()` (which installs checkov on first use). `extra_args` are
    appended to the command (for example `("--check", "CKV_K8S_16")`); without them, a workload checkov
    returned no result for is a `not-checked` finding. Raises `CheckovUnavailable` when
    checkov cannot be installed, `CheckovFailed` when it crashes; a failed check is a finding, not an error.
    Runs offline: `--skip-download`, and the platform mapping download is disabled (`BC_SKIP_MAPPING`).
    """
    started = time.perf_counter()
    manifests_dir = Path(manifests_dir).resolve()  # a relative -d doubles the folder in checkov's paths
    objects, _ = load_manifests(manifests_dir)
    problems = skip_annotation_problems(objects)
    exe, extra = str(executable or ensure_checkov()), tuple(extra_args)

    def checkov_command(folder: Path) -> list[str]:
        return [exe, "--skip-download", "--framework", "kubernetes", "-d", str(folder), "-o", "json", *extra]

    command = checkov_command(manifests_dir)
    if any(p.rule == SKIP_CRASH_RULE for p in problems):
        return CheckovReport(manifests_dir=manifests_dir, findings=tuple(problems), skipped=(),
                             seconds=time.perf_counter() - started, command=tuple(command))
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR", "PYTHONWARNINGS": "ignore"}
    with _checkov_input(manifests_dir) as folder:
        # checkov names files relative to -d, so a defanged copy reports the same paths.
        def run_checkov() -> tuple[int, str, str]:
            try:
                done = subprocess.run(checkov_command(folder), capture_output=True, text=True, timeout=timeout,
                                      env=env, cwd=folder, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise CheckovFailed(f"checkov did not finish: {exc}") from exc
            return done.returncode, done.stdout.replace(str(folder), _FOLDER_TOKEN), done.stderr

        # With LLMP_VERIFY_CACHE set, the same bytes scanned by the same checkov are scanned once.
        key = memo.key_of("checkov", CHECKOV_VERSION.encode(), exe.encode(), "\0".join(extra).encode(),
                          memo.folder_digest(folder)) if memo.cache_dir() else ""
        returncode, stdout, stderr = memo.cached(key, run_checkov, keep=lambda r: r[0] in (0, 1)) if key \
            else run_checkov()
        stdout = stdout.replace(_FOLDER_TOKEN, str(folder))
    # Exit 1 only means "some check failed"; anything else is checkov itself failing.
    if returncode not in (0, 1):
        raise CheckovFailed(f"checkov exited {returncode}: {stderr.strip()[-2000:]}")
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise CheckovFailed(f"checkov output is not JSON ({exc}): {stdout[:500]!r}") from exc
    findings, skipped, summary = parse_report(data, objects)
    if objects and not summary.get("resource_count"):
        findings.append(Finding(source=str(manifests_dir), object_id="", checker=Checker.CHECKOV, rule="no-resources",
                                message=f"checkov read no resource from {len(objects)} objects; nothing was checked"))
    elif not extra:  # `--check`/`--skip-check` may leave a workload without results on purpose
        seen = checked_objects(data, objects)
        findings += [Finding(source=item.source, object_id=item.object_id, checker=Checker.CHECKOV,
                             rule=NOT_CHECKED_RULE,
                             message="checkov returned no result for this workload (it did not read the object, "
                                     "so nothing about it is checked)")
                     for item in objects if item.obj.get("kind") in WORKLOAD_KINDS and item.source not in seen]
    applied = {(s.object_id, s.check_id) for s in skipped}
    unused = [s for s in declared_skips(objects) if (s.object_id, s.check_id) not in applied]
    return CheckovReport(
        manifests_dir=manifests_dir,
        findings=tuple(sorted(problems + findings, key=provenance_key)),
        skipped=tuple(skipped),
        unused_skips=tuple(unused),
        summary=summary,
        seconds=time.perf_counter() - started,
        command=tuple(command),
    )


__all__ = [
    "CHECKOV_VERSION",
    "NOT_CHECKED_RULE",
    "SKIP_ANNOTATION_PREFIX",
    "SKIP_CRASH_RULE",
    "CheckovFailed",
    "CheckovReport",
    "CheckovUnavailable",
    "SkippedCheck",
    "checkov_executable",
    "checkov_installed",
    "checked_objects",
    "declared_skips",
    "defang_helm_text",
    "default_venv",
    "ensure_checkov",
    "main",
    "parse_report",
    "scan",
    "scan_manifests",
    "skip_annotation_problems",
    "WORKLOAD_KINDS",
]


def scan_manifests(manifests_dir: Path, **kwargs: Any) -> CheckovReport:
    """Same as `scan` (the name `llmp.verify` calls)."""
    return scan(manifests_dir, **kwargs)


def main(argv: list[str] | None = None) -> int:
    """`python -m llmp.verify.manifests.checkov_scan [--ensure-only] [MANIFESTS_DIR]`; exit 1 on findings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests_dir", nargs="?", type=Path)
    parser.add_argument("--ensure-only", action="store_true", help="install checkov if needed, then stop")
    args = parser.parse_args(argv)
    try:
        executable = ensure_checkov()
    except CheckovUnavailable as exc:
        print(f"checkov unavailable: {exc}", file=sys.stderr)
        return 2
    if args.ensure_only or args.manifests_dir is None:
        print(executable)
        return 0
    report = scan(args.manifests_dir, executable=executable)
    print(report.format())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

