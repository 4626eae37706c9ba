"""Render docs/benchmarks.md from bench/results/*.json.

Usage: .venv/bin/python bench/render_docs.py [--results bench/results] [--out docs/benchmarks.md]

Every section names the date, machine, versions and the command that produced its figures; a benchmark
without a result file gets "Not measured yet" and the command to run. `render` is a pure function
of the loaded results, so tests can render from fixtures.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (  # noqa: E402 - bench/ is not a package
    FLAT_SPREAD, MARGINAL_LIMIT, MEMORY_FLOOR, NOISE_FLOOR, ROOT, is_bad)

Result = Mapping[str, Any]


@dataclass(frozen=True)
class Benchmark:
    name: str
    """Result file stem: bench/results/<name>.json."""
    title: str
    make_target: str
    script: str
    """What the make target runs (the full-size default run)."""
    about: str
    body: Callable[[Result], list[str]]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        # Three significant digits below 10 (times in s, slopes), one decimal above (ms, MiB).
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value).replace("|", "\\|")


def _overhead(doc: Result) -> list[str]:
    rows = doc.get("rows", [])
    n = doc.get("repeats")
    out = [f"Median of {n} repeat{'' if n == 1 else 's'} per side ({doc.get('mode', 'in-process')}).", ""]
    out += table(["stack", "resources", "of which components", "`llmp plan` program (s)", "`llmp plan` full (s)",
                  "bare SDK mocks (s)", "program / bare", "full / bare"],
                 [[r["stack"], r["resources"], r["components"], r["platform_program_s"], r["platform_full_s"],
                   r["bare_s"], f"{r['program_over_bare']}x", f"{r['full_over_bare']}x"] for r in rows])
    return out


def _spread(row: Result, y: str) -> str | None:
    """(max - min) / median of a point's repeats as a percentage, None with one sample."""
    values = row.get(f"{y}_samples") or []
    if len(values) < 2:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return f"{100 * (ordered[-1] - ordered[0]) / median:.0f}%" if median else None


def _marginal(fit: Result, key: str) -> str | None:
    """A segment's marginal cost as `median unit/x (lowest to highest)`."""
    seg = fit.get(key)
    if not seg:
        return None
    per = {"resources": "resource", "tenants": "tenant", "models": "model"}.get(fit.get("judged_against", ""), "x")
    return f"{_fmt(seg[1])} {fit.get('unit', '')}/{per} ({_fmt(seg[0])} to {_fmt(seg[2])})"


def _scaling(doc: Result) -> list[str]:
    rows = doc.get("rows", [])
    out = [f"Time: {doc.get('time', '')}, median of {doc.get('repeats')}; bare SDK: "
           f"{doc.get('bare', 'not measured')}; overhead = plan - bare SDK, repeat by repeat. Spread = "
           "(max - min) / median of the plan's repeats. Memory: "
           f"{doc.get('memory', '')}; it includes the interpreter and the imported SDKs, so the column after it "
           "subtracts the level reached by a 1-tenant, 1-model warm-up plan in the same process.", ""]
    out += table(["series", "tenants", "models", "resources", "program (s)", "total (s)", "spread",
                  "bare SDK (s)", "overhead (s)", "ms per resource", "peak RSS (MiB)", "above warm-up (MiB)"],
                 [[r["series"], r["tenants"], r["models"], r["resources"], r["program_s"], r["total_s"],
                   _spread(r, "total_s"), r.get("bare_s"), r.get("overhead_s"), r.get("ms_per_resource"),
                   r["peak_rss_mib"],
                   round(r["peak_rss_mib"] - r["warm_rss_mib"], 1) if "warm_rss_mib" in r else None] for r in rows])
    fits = doc.get("fits", [])
    if fits:
        out += ["", "Fits `y = intercept + slope * x` against tenants or models and against resources (descriptive), "
                "and the growth verdict from the marginal cost of the last segment against the earlier points' (first "
                "point to the start of the last segment), per resource (per tenant or model where the resources do "
                "not change): median, and the lowest to highest the repeats allow.", ""]
        out += table(["series", "y", "x", "held fixed", "resources", "slope per x", "r²", "per resource",
                      "r² (resources)", "earlier points", "last segment", "repeat spread", "verdict"],
                     [[f["series"], f["y"], f["x"], f["fixed"], "/".join(map(str, f.get("resources", []))),
                       f["slope"], f["r2"],
                       None if f.get("per_resource") is None else f"{_fmt(f['per_resource'])} {f['unit']}",
                       f.get("r2_resources"), _marginal(f, "head_marginal"), _marginal(f, "tail_marginal"),
                       None if f.get("repeat_spread") is None else f"{100 * f['repeat_spread']:.0f}%",
                       f["verdict"]] for f in fits])
        bad = [f for f in fits if is_bad(f["verdict"])]
        untested = [f for f in fits if f["verdict"].startswith("not tested")]
        undecided = [f for f in fits if f["verdict"].startswith("undecided")]
        tested = len(fits) - len(untested)
        out.append("")
        out.append(f"A point stands for the range of its repeats, widened to at least {100 * NOISE_FLOOR:.0f}% of "
                   f"its median ({100 * MEMORY_FLOOR:g}% for peak memory, one value per process). Linear: even the "
                   "least favourable reading keeps the last segment's marginal cost within "
                   f"{MARGINAL_LIMIT}x the earlier points'; NON-LINEAR: even the most favourable reading puts it "
                   f"above {MARGINAL_LIMIT}x (or it surely rises where the earlier points surely do not); flat: "
                   "every point lies within the others' range, or the medians lie within "
                   f"{100 * FLAT_SPREAD:.0f}% of their mean; undecided: the spread is too wide to tell. r² decides "
                   "nothing: a flat, noisy series has a low one and a curve can have a high one.")
        if bad:
            out.append(f"**Not linear** in {len(bad)} of {tested} tested series: "
                       + "; ".join(f"{f['y']} vs {f['x']} ({f['series']}, {f['fixed']})" for f in bad) + ".")
        elif tested > len(undecided):
            out.append(f"No tested series grows faster than linearly ({tested - len(undecided)} of {tested} "
                       "decided).")
        if undecided:
            out.append(f"**Undecided** in {len(undecided)} series: the repeats spread too widely; rerun with more "
                       "`--repeats` on a quieter machine.")
        if untested:
            out.append(f"**Linearity not tested** in {len(untested)} series (fewer than 3 distinct x values, "
                       "or one repeat per point).")
    return out


def _plan_verify(doc: Result) -> list[str]:
    rows = doc.get("rows", [])
    out = [f"Median of {doc.get('repeats')} run(s), {doc.get('mode', 'subprocess per command')}. "
           "A non-zero exit is shown, not hidden.", ""]
    out += table(["stack", "resources", "`llmp plan` (s)", "plan exit", "`llmp verify` (s)", "verify exit",
                  "total (s)"],
                 [[r["stack"], r["resources"], r["plan_s"], r["plan_exit"], r["verify_s"], r["verify_exit"],
                   r["total_s"]] for r in rows])
    return out


def _gateway_hop(doc: Result) -> list[str]:
    rows = doc.get("rows", [])
    out = [f"{doc.get('requests_per_level')} requests per concurrency level; added = through the tenant "
           "gateway minus direct to the backend.", ""]
    out += table(["concurrency", "direct p50 (ms)", "direct p95 (ms)", "gateway p50 (ms)", "gateway p95 (ms)",
                  "added p50 (ms)", "added p95 (ms)"],
                 [[r["concurrency"], r["direct_p50_ms"], r["direct_p95_ms"], r["gateway_p50_ms"], r["gateway_p95_ms"],
                   r["added_p50_ms"], r["added_p95_ms"]] for r in rows])
    return out + ["", *_fim_hop(doc)]


def _fim_request(doc: Result) -> str:
    req = doc.get("fim_request", {})
    model = f" to `{req['model']}` (the prod FIM model)" if req.get("model") else ""
    return (f"`POST {req.get('endpoint')}`{model}, a {req.get('prompt_chars')}-character code prompt with FIM markers "
            f"({req.get('prompt_words')} words), `max_tokens` {req.get('max_tokens')}, streamed (the backend sends "
            f"one chunk per token; {'/'.join(map(str, req.get('text_chunks_seen', [])))} text chunks reached the "
            "client through the gateway)")


def _fim_hop(doc: Result) -> list[str]:
    rows = doc.get("fim_rows")
    if not rows:
        return ["FIM-sized streamed requests: not measured in this run (`--fim-concurrency` empty or an older "
                "result file); `make bench-gateway-hop` measures them."]
    out = [f"**FIM-sized streamed requests** (what an IDE sends while one types): {_fim_request(doc)}; "
           f"{doc.get('fim_requests_per_level')} requests per concurrency level. First chunk = time to the first "
           "text chunk; total = time to `[DONE]`.", ""]
    out += table(["concurrency", "direct first chunk p50 / p95 (ms)", "gateway first chunk p50 / p95 (ms)",
                  "added first chunk p50 / p95 (ms)", "direct total p50 / p95 (ms)", "gateway total p50 / p95 (ms)",
                  "added total p50 / p95 (ms)"],
                 [[r["concurrency"], *(f"{_fmt(r[f'{path}_{m}_p50_ms'])} / {_fmt(r[f'{path}_{m}_p95_ms'])}"
                                       for m in ("ttfc", "total") for path in ("direct", "gateway", "added"))]
                  for r in rows])
    return out


def _make_test_glance(doc: Result) -> list[str]:
    runs = doc.get("runs", [])
    out = table(["run", "commit", "pytest wall (s)", "tests", "live group: wall s (sum)", "CPU s (sum, all tests)",
                 "load at record"],
                [[r["label"], f"`{r['commit']}`", r["wall_s"], r["tests"], r["live"]["wall_s"], r["cpu_sum_s"],
                  r.get("load_avg_1m_at_record")] for r in runs])
    return out + ["", "`make test` = `pytest -n 2 --dist loadgroup` on 2 CPUs: the live tests are one xdist group on one "
                  "worker, everything else is shared out test by test. Wall time depends on who else uses the machine "
                  "(the load column); CPU seconds much less. Per group, per worker and the slowest tests of each run: "
                  "[How long make test takes](#how-long-make-test-takes)."]


def _make_test(doc: Result) -> list[str]:
    out: list[str] = []
    for r in doc.get("runs", []):
        out += [f"### {r['label']} (`{r['commit']}`): {_fmt(r['wall_s'])} s", ""]
        if r.get("note"):
            out += [r["note"], ""]
        out += table(["xdist group", "tests", "wall s (sum)", "CPU s (sum)"],
                     [[name, g["tests"], g["wall_s"], g["cpu_s"]] for name, g in r["groups"].items()])
        out += [""] + table(["worker", "tests", "wall s (sum)", "CPU s (sum)"],
                            [[name, w["tests"], w["wall_s"], w["cpu_s"]] for name, w in r["workers"].items()])
        out += [""] + table([f"slowest {len(r['slowest'])} (setup + call + teardown)", "wall s", "CPU s", "group"],
                            [[f"`{t['test']}`", t["wall_s"], t["cpu_s"], t["group"]] for t in r["slowest"]])
        out += [""]
    return out


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("plan_overhead", "Offline plan overhead", "bench-plan-overhead", "bench/plan_overhead.py",
              "`llmp plan` (program = config validation + the real `__main__.py` under recording mocks; full = "
              "program + plan.json/manifests + policy pack) against the Pulumi SDK's stock `set_mocks` registering "
              "the same resources (same types, names, parent tree and inputs) as plain Custom/ComponentResources, "
              "side by side in one process; both with CPython's full garbage collections paused while the "
              "program runs, as `llmp plan` runs it (`llmp/plan/gcpause.py`).", _overhead),
    Benchmark("plan_scaling", "Offline plan scaling with tenants and models", "bench-plan-scaling",
              "bench/plan_scaling.py",
              "The prod stack with generated tenants and models (`bench/stackgen.py`; the GPU pool is sized so the "
              "config rules accept them), one fresh process per point; after each plan the bare SDK replays the same "
              "registrations, so our overhead over the SDK is measured at the same resource counts. `grid` keeps "
              "prod's tier (multi-team), where tenants share the platform's namespaces (the resources column shows "
              "what they add); `untrusted` gives every tenant its own namespace and controls.", _scaling),
    Benchmark("plan_verify", "Plan + verify wall time", "bench-plan-verify", "bench/plan_verify.py",
              "`llmp plan <stack> -q` then `llmp verify <stack>` as subprocesses, as CI runs them (verify includes "
              "network-config-analyzer, both CEL engines, kubernetes-validate and checkov).", _plan_verify),
    Benchmark("gateway_hop", "Tenant gateway hop", "bench-gateway-hop", "bench/gateway_hop.py",
              "Latency a request gains by going through the LiteLLM tenant gateway instead of straight to the "
              "(fake, local) model backend, at several concurrency levels: chat calls, then FIM-sized streamed "
              "completions (what an IDE's autocomplete sends).", _gateway_hop),
    Benchmark("make_test", "How long make test takes", "bench-make-test", "bench/make_test.py",
              "The whole suite as `make test` runs it (CI=true), with every test's wall and CPU seconds recorded "
              "(`LLMP_TEST_TIMES`, tests/support/timings.py), summed per xdist group and per worker. Runs made "
              "elsewhere (CI, another checkout) are added with `--times`. Each run is listed.", _make_test),
)


def _pr_check(doc: Result) -> list[str]:
    rows = doc.get("rows", [])
    out = table(["stack", "resources", "`llmp plan` (s)", "`llmp verify` (s)", "total (s)"],
                [[r["stack"], r["resources"], r["plan_s"], r["verify_s"], r["total_s"]
                  if not (r["plan_exit"] or r["verify_exit"]) else f"{_fmt(r['total_s'])} (exit {r['plan_exit']}/"
                  f"{r['verify_exit']})"] for r in rows])
    if rows:
        out += ["", f"`.github/workflows/pr-check.yml` runs each stack as its own job, side by side, so a check waits "
                f"about {_fmt(max(r['total_s'] for r in rows))} s for plan + verify ({_fmt(sum(r['total_s'] for r in rows))} s "
                f"one after the other on one {doc.get('machine', {}).get('cpus', '?')}-CPU machine), most of it "
                "`llmp verify`; installing the environments (checkov's first install takes about a minute) is not "
                "counted."]
    return out


def _load_note(doc: Result) -> str:
    """A sentence when the machine was busier than its CPUs when the run started (latencies read high), else ''."""
    machine = doc.get("machine", {})
    load, cpus = machine.get("load_avg_1m"), machine.get("cpus")
    if load is None or not cpus or load <= cpus:
        return ""
    return (f" Measured while other work kept the machine busy (load average {_fmt(load)} on {cpus} CPUs): "
            "both paths were slowed, so read these as upper bounds.")


def _hop_glance(doc: Result) -> list[str]:
    rows = doc.get("rows", [])
    out = table(["requests in flight", "added p50 (ms)", "added p95 (ms)"],
                [[r["concurrency"], r["added_p50_ms"], r["added_p95_ms"]] for r in rows])
    return out + ["", "Added = through LiteLLM minus straight to the (fake, local) model backend: the gateway's own "
                  "cost, not a model's latency." + _load_note(doc)]


def _fim_glance(doc: Result) -> list[str]:
    fim = doc.get("fim_rows")
    if not fim:
        return ["Not measured yet: run `make bench-gateway-hop`, then `make bench-docs`."]
    out = table(["requests in flight", "added to the first chunk p50 / p95 (ms)",
                 "added to the whole stream p50 / p95 (ms)"],
                [[r["concurrency"], f"{_fmt(r['added_ttfc_p50_ms'])} / {_fmt(r['added_ttfc_p95_ms'])}",
                  f"{_fmt(r['added_total_p50_ms'])} / {_fmt(r['added_total_p95_ms'])}"] for r in fim])
    return out + ["", "A FIM-sized request (a short code prompt, 16 tokens, streamed), as autocomplete sends one at each "
                  "pause in typing; added = through LiteLLM minus straight to the fake backend. Details: "
                  "[Tenant gateway hop](#tenant-gateway-hop)." + _load_note(doc)]


def _growth_glance(doc: Result) -> list[str]:
    rows = doc.get("rows", [])
    by_tier = {series: {r["tenants"]: r for r in rows if r["series"] == series and r["models"] == 1}
               for series in ("grid", "untrusted")}
    tenants = sorted(set(by_tier["grid"]) | set(by_tier["untrusted"]))
    out = table(["tenants", "multi-team: resources", "multi-team: plan (s)", "untrusted: resources",
                 "untrusted: plan (s)", "untrusted: peak RSS (MiB)"],
                [[t, *(by_tier["grid"][t][k] if t in by_tier["grid"] else None for k in ("resources", "total_s")),
                  *(by_tier["untrusted"][t][k] if t in by_tier["untrusted"] else None
                    for k in ("resources", "total_s", "peak_rss_mib"))] for t in tenants])
    fit = next((f for f in doc.get("fits", []) if f["series"] == "untrusted" and f["x"] == "tenants"
                and f["y"] == "total_s"), None)
    untrusted = [by_tier["untrusted"][t] for t in sorted(by_tier["untrusted"])]
    notes = ["One model. Multi-team tenants share the platform's namespaces, so a tenant adds config, not resources; "
             "an untrusted tenant gets its own namespace and controls"]
    if len(untrusted) >= 2 and untrusted[-1]["tenants"] > untrusted[0]["tenants"]:
        per = (untrusted[-1]["resources"] - untrusted[0]["resources"]) / (untrusted[-1]["tenants"] - untrusted[0]["tenants"])
        notes[0] += f" ({per:.0f} resources each)"
    if fit:
        notes.append(f"untrusted plan time is {fit['verdict'].split(' (')[0]}"
                     + (f" at {_fmt(fit['per_resource'])} {fit['unit']} per resource" if fit.get("per_resource") else ""))
    return out + ["", "; ".join(notes) + ". Every series and its fit: "
                  "[Offline plan scaling](#offline-plan-scaling-with-tenants-and-models)."]


GLANCE: tuple[tuple[str, str, Callable[[Result], list[str]]], ...] = (
    ("How long does a pull-request check take?", "plan_verify", _pr_check),
    ("What does the tenant gateway add to a request?", "gateway_hop", _hop_glance),
    ("What does the gateway add to an IDE's autocomplete?", "gateway_hop", _fim_glance),
    ("How does the plan grow with tenants?", "plan_scaling", _growth_glance),
    ("How long does `make test` take?", "make_test", _make_test_glance),
)
"""The questions a platform engineer asks first, each answered by one short table from one benchmark."""


def _glance(results: Mapping[str, Result | None]) -> list[str]:
    out = ["## At a glance", "", "One short table per question; how each was measured, on which machine, and the full "
           "tables and fits follow in the sections below.", ""]
    for question, name, body in GLANCE:
        out += [f"### {question}", ""]
        doc = results.get(name)
        bench = next(b for b in BENCHMARKS if b.name == name)
        if doc is None:
            out += [f"Not measured yet: run `make {bench.make_target}`, then `make bench-docs`.", ""]
            continue
        out += body(doc) + [""]
    return out


def load_results(results_dir: Path) -> dict[str, dict[str, Any] | None]:
    """Each known benchmark's result document, None where its file is missing."""
    out: dict[str, dict[str, Any] | None] = {}
    for bench in BENCHMARKS:
        path = results_dir / f"{bench.name}.json"
        out[bench.name] = json.loads(path.read_text()) if path.exists() else None
    return out


def _default_command(bench: Benchmark) -> str:
    return shlex.join([".venv/bin/python", bench.script])


def _provenance(bench: Benchmark, doc: Result) -> list[str]:
    m = doc.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in sorted(doc.get("versions", {}).items()))
    command = doc.get("command", "?")
    lines = [f"- Measured: {doc.get('date', '?')} on {m.get('cpus', '?')} CPUs, {m.get('memory_gib', '?')} GiB, "
             f"Python {m.get('python', '?')}" + (f" ({m['platform']})" if m.get("platform") else "")
             + (f"; load average {m['load_avg_1m']} at start" if m.get("load_avg_1m") is not None else ""),
             f"- Versions: {versions or 'not recorded'}",
             f"- These figures: `{command}`"]
    if command != _default_command(bench):
        lines.append(f"- Reduced or custom run; the full run is `make {bench.make_target}` "
                     f"(`{_default_command(bench)}`)")
    else:
        lines.append(f"- Reproduce: `make {bench.make_target}`")
    return lines


def render(results: Mapping[str, Result | None]) -> str:
    """docs/benchmarks.md for `results` (benchmark name -> result document or None)."""
    out = ["# Benchmarks", "",
           "Generated by `bench/render_docs.py` from `bench/results/*.json`; do not edit by hand. "
           "`make bench` runs every benchmark and renders this page; each section names its own make target. "
           "These are scripts, not timed tests: numbers depend on the machine and its load.", ""]
    reduced = [b.title for b in BENCHMARKS
               if results.get(b.name) is not None and results[b.name].get("command") != _default_command(b)]
    if reduced:
        out += [f"**Reduced runs:** the figures in {'; '.join(reduced)} were measured with smaller or custom "
                "settings than `make bench` uses (each section names its command); rerun `make bench` for the "
                "full figures.", ""]
    out += _glance(results)
    for bench in BENCHMARKS:
        doc = results.get(bench.name)
        out += [f"## {bench.title}", "", bench.about, ""]
        if doc is None:
            out += [f"Not measured yet: run `make {bench.make_target}` (`{_default_command(bench)}`), "
                    "then `make bench-docs`.", ""]
            continue
        out += _provenance(bench, doc) + [""] + bench.body(doc) + [""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    args.out.write_text(render(load_results(args.results)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
