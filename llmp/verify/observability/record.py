"""Generate `metric_names.json`: every metric name the pinned releases export, read from their own source.

    python -m llmp.verify.observability.record --vllm <wheel> --mirror <dir holding owner+name/repo> [--write]

- vLLM 0.14.0 (the wheel `llmp.verify.vllm_routes` names): `name="vllm:..."` of each `_gauge_cls`,
  `_counter_cls` and `_histogram_cls` call in `vllm/v1/metrics/loggers.py`, read with `ast`, except those
  under `if self.show_hidden_metrics:` (deprecated names, off unless a flag asks for them); the
  Python client exposes a counter as `<name>_total` and a histogram as `_bucket`, `_sum`, `_count`.
- Go exporters (endpoint picker GIE v1.5.0, KEDA v2.20.2, Kueue v0.19.2, CloudNativePG v1.30.0, the Redis
  exporter): every `prometheus.*Opts{Namespace, Subsystem, Name}` literal at the pinned tag, with the
  string constants it names resolved; the Go client exposes names as written.
- CloudNativePG's default monitoring queries (`config/manager/default-monitoring.yaml` at v1.30.0):
  `cnpg_<query>_<column>` for each column that is not a LABEL or DISCARD.
- LiteLLM: see `litellm` in the record; it is read from a live scrape of the pinned proxy
  (tests/live/test_alerts_live.py records it with LLMP_RECORD_LITELLM_METRICS=1).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import yaml

RECORD = Path(__file__).with_name("metric_names.json")
GO_SOURCES = {
    "endpoint-picker": ("kubernetes-sigs+gateway-api-inference-extension", "v1.5.0", ("pkg/epp/metrics",)),
    "keda": ("kedacore+keda", "v2.20.2", ("pkg/metricscollector",)),
    "kueue": ("kubernetes-sigs+kueue", "v0.19.2", ("pkg/metrics",)),
    "cloudnative-pg": ("cloudnative-pg+cloudnative-pg", "v1.30.0",
                       ("pkg/management/postgres/webserver/metricserver",)),
    "redis-exporter": ("oliver006+redis_exporter", "v1.88.0", ("exporter",)),
}
"""Source -> (mirror, tag, folders). The Redis exporter chart 6.29.0 runs v1.89.0; the newest tag the mirror holds
is v1.88.0, and the one name the rules read (`redis_up`) is the same in both."""
VLLM_FILE = "vllm/v1/metrics/loggers.py"
CNPG_QUERIES = "config/manager/default-monitoring.yaml"


def vllm_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        tree = ast.parse(z.read(VLLM_FILE).decode())
    # Metrics under `if self.show_hidden_metrics:` are exported only with --show-hidden-metrics-for-version.
    hidden = {id(n) for i in ast.walk(tree) if isinstance(i, ast.If) and "show_hidden_metrics" in ast.unparse(i.test)
              for n in ast.walk(i)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute) or id(node) in hidden:
            continue
        kind = node.func.attr
        if kind not in ("_gauge_cls", "_counter_cls", "_histogram_cls"):
            continue
        name = next((k.value.value for k in node.keywords if k.arg == "name" and isinstance(k.value, ast.Constant)),
                    None)
        if not name:
            continue
        if kind == "_counter_cls":
            out.add(f"{name}_total")
        elif kind == "_histogram_cls":
            out |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        else:
            out.add(name)
    return sorted(out)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


_CONST = re.compile(r'\b(\w+)\s*(?:string\s*)?:?=\s*"([^"\n]*)"')
_OPTS = re.compile(r"prometheus\.(?:Counter|Gauge|Histogram|Summary)Opts\s*\{(.*?)\n\s*\}", re.S)
_FIELD = re.compile(r"^\s*(Namespace|Subsystem|Name)\s*:\s*([^,\n]+),?\s*$", re.M)


def go_names(repo: Path, tag: str, folders: tuple[str, ...]) -> list[str]:
    files = [f for f in _git(repo, "ls-tree", "-r", "--name-only", tag).splitlines() if f.endswith(".go")
             and not f.endswith("_test.go")]
    texts = {f: _git(repo, "show", f"{tag}:{f}") for f in files if f.startswith(folders)}
    consts: dict[str, str] = {}
    for f in files:
        if f.startswith(("pkg/", "exporter/", "internal/", "cmd/")) or "/" not in f:
            if f not in texts and ("constants" in f or "metric" in f):
                texts.setdefault(f, _git(repo, "show", f"{tag}:{f}"))
    for text in texts.values():
        for k, v in _CONST.findall(text):
            consts.setdefault(k, v)

    def value(expr: str) -> str | None:
        expr = expr.strip()
        if expr.startswith('"'):
            return expr.strip('"')
        return consts.get(expr.split(".")[-1])

    out: set[str] = set()
    for f, text in texts.items():
        if not f.startswith(folders):
            continue
        for body in _OPTS.findall(text):
            fields = {k: value(v) for k, v in _FIELD.findall(body)}
            if not fields.get("Name"):
                continue
            out.add("_".join(p for p in (fields.get("Namespace"), fields.get("Subsystem"), fields["Name"]) if p))
    return sorted(out)


def cnpg_query_names(repo: Path, tag: str) -> list[str]:
    doc = yaml.safe_load(_git(repo, "show", f"{tag}:{CNPG_QUERIES}"))
    queries = yaml.safe_load(doc["data"]["queries"])
    out = set()
    for query, spec in queries.items():
        for column in spec.get("metrics", []):
            for col, meta in column.items():
                if meta.get("usage") not in ("LABEL", "DISCARD"):
                    out.add(f"cnpg_{query}_{col}")
    return sorted(out)


def generate(wheel: Path, mirror: Path, litellm: dict[str, Any]) -> dict[str, Any]:
    sources: dict[str, Any] = {"vllm": {"source": f"vllm 0.14.0 wheel, {VLLM_FILE}", "names": vllm_names(wheel)}}
    for key, (repo, tag, folders) in GO_SOURCES.items():
        path = mirror / repo / "repo"
        names = go_names(path, tag, folders)
        where = f"{repo.replace('+', '/')} tag {tag} ({', '.join(folders)})"
        if key == "redis-exporter":
            # Its instance metrics are a name -> description map, prefixed with `--namespace` (default `redis`).
            text = _git(path, "show", f"{tag}:exporter/exporter.go")
            names = sorted(set(names) | {f"redis_{n}" for n in re.findall(r'^\s*"(\w+)":\s*\{txt:', text, re.M)})
            where += " and exporter/exporter.go's metric descriptions (namespace `redis`)"
        if key == "cloudnative-pg":
            names = sorted(set(names) | set(cnpg_query_names(path, tag)))
            where += f" and {CNPG_QUERIES}"
        sources[key] = {"source": where, "names": names}
    sources["litellm"] = litellm
    sources["prometheus"] = {"source": "Prometheus itself: the synthetic series of every scrape",
                             "names": ["up", "scrape_duration_seconds", "scrape_samples_scraped"]}
    return {"sources": sources}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m llmp.verify.observability.record")
    p.add_argument("--vllm", required=True, type=Path)
    p.add_argument("--mirror", required=True, type=Path)
    p.add_argument("--write", action="store_true")
    ns = p.parse_args(argv)
    old = json.loads(RECORD.read_text()) if RECORD.exists() else {"sources": {}}
    litellm = old["sources"].get("litellm", {"source": "not recorded yet", "names": []})
    text = json.dumps(generate(ns.vllm, ns.mirror, litellm), indent=1) + "\n"
    if ns.write:
        RECORD.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
