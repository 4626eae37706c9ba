"""The observability proof of `llmp verify`: the rules as the Prometheus release installs them, checked by
the real engine (Debian's `prometheus` package: `promtool check rules`, `promtool test rules`), and every
metric they and the KEDA triggers read known to the pinned release that exports it (`metric_names.json`).

It is stack-wide, not a tenant control: `llmp verify` runs it after the controls' proofs.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmp.verify.observability import scenarios
from llmp.verify.observability.promql_names import metric_names
from llmplatform import naming
from llmplatform.config import PlatformConfig
from llmplatform.serving import names as serving_names

CATALOGUE = Path(__file__).with_name("metric_names.json")
RULE_FILES = ("alerting_rules.yml", "recording_rules.yml")


def known_metrics(catalogue: Path = CATALOGUE) -> dict[str, str]:
    """metric name -> the source it was read from."""
    data = json.loads(catalogue.read_text())["sources"]
    return {name: key for key, src in data.items() for name in src["names"]}


def promtool() -> str | None:
    return shutil.which("promtool")


def rendered_rule_files(objects: list[dict[str, Any]]) -> dict[str, str] | None:
    """The rule files in the Prometheus server's ConfigMap as the chart rendered them, or None if not rendered."""
    for o in objects:
        meta = o.get("metadata") or {}
        if o.get("kind") == "ConfigMap" and meta.get("name") == serving_names.PROMETHEUS_SERVER \
                and all(f in (o.get("data") or {}) for f in RULE_FILES):
            return {f: o["data"][f] for f in RULE_FILES}
    return None


@dataclass
class ObservabilityResult:
    problems: list[str] = field(default_factory=list)
    rules: int = 0
    alerts: list[str] = field(default_factory=list)
    unit_cases: int = 0
    keda_queries: int = 0
    metrics: dict[str, str] = field(default_factory=dict)
    """Every metric name read -> its source (`recording rule` for the rules' own)."""
    promtool_version: str = ""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def _without_annotations(text: str) -> str:
    doc = yaml.safe_load(text) or {}
    doc = copy.deepcopy(doc)
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            rule.pop("annotations", None)
    return yaml.safe_dump(doc, sort_keys=False)


def check(objects: list[dict[str, Any]], cfg: PlatformConfig, *, fail_closed: bool,
          extra_queries: dict[str, str] | None = None, catalogue: Path = CATALOGUE) -> ObservabilityResult:
    """Everything the proof checks, over the rendered objects and the stack's config.

    `extra_queries`: more PromQL whose metric names must be known (name -> query; the dashboards')."""
    out = ObservabilityResult()
    tool = promtool()
    files = rendered_rule_files(objects)
    if files is None:
        out.problems.append("the Prometheus server ConfigMap with alerting_rules.yml and recording_rules.yml was not "
                            "rendered (run `llmp plan` with the charts available)")
        return out
    if tool is None:
        out.problems.append("promtool not found: install Debian's `prometheus` package")
        return out
    out.promtool_version = (_run([tool, "--version"], Path(".")).stdout.splitlines() or [""])[0]
    parsed = {f: yaml.safe_load(t) or {} for f, t in files.items()}
    all_rules = [r for d in parsed.values() for g in d.get("groups", []) for r in g.get("rules", [])]
    out.rules = len(all_rules)
    out.alerts = sorted({r["alert"] for r in all_rules if "alert" in r})
    recorded = {r["record"] for r in all_rules if "record" in r}
    with tempfile.TemporaryDirectory(prefix="llmp-obs-") as tmp:
        work = Path(tmp)
        for f, text in files.items():
            (work / f).write_text(text)
            (work / f"plain-{f}").write_text(_without_annotations(text))
        res = _run([tool, "check", "rules", *RULE_FILES], work)
        if res.returncode != 0:
            out.problems.append(f"promtool check rules failed:\n{(res.stdout + res.stderr).strip()}")
            return out
        tenant_ns, serving_ns = naming.NS_TENANT_GATEWAY, naming.NS_SERVING
        cases = scenarios.cases(cfg, serving_ns=serving_ns, tenant_ns=tenant_ns, fail_closed=fail_closed)
        missing = sorted(set(out.alerts) - {c.alert for c in cases})
        out.problems += [f"alert {a} has no unit test (llmp/verify/observability/scenarios.py)" for a in missing]
        scaled = [o for o in objects if o.get("kind") == "ScaledObject"]
        keda = scenarios.keda_signal_tests(cfg, scaled, serving_ns=serving_ns)
        applied = [c for c in cases if c.alert in out.alerts]
        out.unit_cases, out.keda_queries = len(applied), len(keda["promql_expr_test"])
        tests = scenarios.promtool_tests(applied, [f"plain-{f}" for f in RULE_FILES], keda)
        (work / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
        res = _run([tool, "test", "rules", "tests.yml"], work)
        if res.returncode != 0:
            out.problems.append(f"promtool test rules failed:\n{(res.stdout + res.stderr).strip()[:6000]}")
    known = known_metrics(catalogue)
    queries = {f"rule {r.get('alert') or r.get('record')}": r["expr"] for r in all_rules}
    for so in [o for o in objects if o.get("kind") == "ScaledObject"]:
        for trig in so["spec"].get("triggers", []):
            if trig.get("type") == "prometheus":
                queries[f"ScaledObject {so['metadata']['name']} trigger {trig['name']}"] = trig["metadata"]["query"]
    queries.update(extra_queries or {})
    for where, expr in queries.items():
        for name in sorted(metric_names(expr)):
            if name in recorded:
                out.metrics[name] = "recording rule"
            elif name in known:
                out.metrics[name] = known[name]
            else:
                out.problems.append(f"{where} reads metric {name!r}, which no pinned release exports "
                                    f"(llmp/verify/observability/metric_names.json)")
    return out
