"""docs/benchmarks.md is rendered from result files: provenance, tables, fit verdicts, missing results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.benchmods import load_bench_module

render_docs = load_bench_module("render_docs")

MACHINE = {"cpus": 7, "memory_gib": 12.5, "python": "3.11.99", "platform": "Linux-fixture", "load_avg_1m": 3.25}


def overhead_doc() -> dict:
    return {
        "benchmark": "plan_overhead", "date": "2031-02-03T04:05:06+00:00", "machine": MACHINE,
        "versions": {"pulumi": "9.8.7", "pulumi-kubernetes": "6.5.4"},
        "command": ".venv/bin/python bench/plan_overhead.py", "repeats": 5, "mode": "in-process fixture mode",
        "rows": [{"stack": "dev", "resources": 75, "components": 7, "platform_program_s": 0.4321,
                  "platform_full_s": 0.6543, "bare_s": 0.2109, "program_over_bare": 2.05, "full_over_bare": 3.1}],
    }


def scaling_doc() -> dict:
    rows = [{"series": "grid", "tenants": t, "models": 1, "resources": 90 + t, "program_s": 1.0 + t / 100,
             "total_s": 1.5 + t / 100, "total_s_samples": [1.4 + t / 100, 1.5 + t / 100, 1.55 + t / 100],
             "bare_s": 0.25, "bare_s_samples": [0.25, 0.25, 0.25], "overhead_s": 1.25 + t / 100,
             "ms_per_resource": 1000 * (1.5 + t / 100) / (90 + t),
             "peak_rss_mib": 200.0 + t, "warm_rss_mib": 199.5} for t in (1, 10)]
    fit = {"unit": "ms", "judged_against": "resources", "intercept": 1.5, "r2_resources": 0.999}
    return {
        "benchmark": "plan_scaling", "date": "2031-02-03T05:00:00+00:00", "machine": MACHINE,
        "versions": {"pulumi": "9.8.7"}, "repeats": 3, "time": "fixture time", "memory": "fixture rss",
        "bare": "fixture bare",
        "command": ".venv/bin/python bench/plan_scaling.py --tenants 1 10 --repeats 3",
        "rows": rows,
        "fits": [
            {**fit, "series": "grid", "x": "tenants", "y": "total_s", "fixed": "models=1", "points": 3,
             "resources": [91, 100, 140], "slope": 0.01, "r2": 0.999, "per_resource": 4.25,
             "head_marginal": [3.5, 4.0, 4.5], "tail_marginal": [3.75, 4.25, 4.75], "repeat_spread": 0.0625,
             "verdict": "linear (last segment's marginal cost at most 1.36x the first's, repeat spread up to 6%)"},
            {**fit, "series": "grid", "x": "models", "y": "total_s", "fixed": "tenants=1", "points": 2,
             "resources": [91, 140], "slope": 0.7, "r2": 1.0, "per_resource": 5.0, "head_marginal": None,
             "tail_marginal": None, "repeat_spread": 0.05,
             "verdict": "not tested (2 distinct x: any 2 points fit a line)"},
            {**fit, "series": "grid", "x": "tenants", "y": "total_s", "fixed": "models=5", "points": 3,
             "judged_against": "tenants", "resources": [143], "slope": 0.002, "r2": 0.2, "per_resource": None,
             "r2_resources": None, "head_marginal": [-1.5, 2.0, 5.5], "tail_marginal": [-0.5, 0.25, 1.0],
             "repeat_spread": 0.125, "verdict": "flat (medians within 7% of their mean, repeat spread up to 13%)"},
            {**fit, "series": "untrusted", "x": "tenants", "y": "total_s", "fixed": "models=1", "points": 3,
             "resources": [109, 217, 697], "slope": 0.5, "r2": 0.91, "per_resource": 9.25,
             "head_marginal": [2.5, 3.5, 4.125], "tail_marginal": [9.5, 9.875, 10.25], "repeat_spread": 0.05,
             "verdict": "NON-LINEAR (last segment's marginal cost is at least 2.3x the first's, "
                        "repeat spread up to 5%)"},
            {**fit, "series": "untrusted", "x": "tenants", "y": "bare_s", "fixed": "models=1", "points": 3,
             "resources": [109, 217, 697], "slope": 0.1, "r2": 0.99, "per_resource": 1.5,
             "head_marginal": [0.5, 1.5, 2.5], "tail_marginal": [1.25, 1.5, 1.75], "repeat_spread": 0.4,
             "verdict": "undecided (repeat spread up to 40% is too wide to tell: last/first marginal cost "
                        "between 0.5 and 3.5)"},
        ],
    }


def hop_doc() -> dict:
    return {
        "benchmark": "gateway_hop", "date": "2031-02-03T06:00:00+00:00", "machine": MACHINE,
        "versions": {"litellm": "1.100.1"}, "command": ".venv/bin/python bench/gateway_hop.py",
        "requests_per_level": 123,
        "rows": [{"concurrency": 8, "direct_p50_ms": 1.25, "direct_p95_ms": 2.5, "gateway_p50_ms": 11.75,
                  "gateway_p95_ms": 19.5, "added_p50_ms": 10.5, "added_p95_ms": 17.0}],
        "fim_request": {"endpoint": "/v1/completions", "stream": True, "max_tokens": 16, "prompt_chars": 283,
                        "prompt_words": 32, "text_chunks_seen": [16]},
        "fim_requests_per_level": 77,
        "fim_rows": [{"concurrency": 1, "direct_ttfc_p50_ms": 1.5, "direct_ttfc_p95_ms": 2.25,
                      "gateway_ttfc_p50_ms": 30.5, "gateway_ttfc_p95_ms": 42.0, "added_ttfc_p50_ms": 29.0,
                      "added_ttfc_p95_ms": 39.75, "direct_total_p50_ms": 2.0, "direct_total_p95_ms": 3.0,
                      "gateway_total_p50_ms": 45.5, "gateway_total_p95_ms": 61.0, "added_total_p50_ms": 43.5,
                      "added_total_p95_ms": 58.0}],
    }


def make_test_doc() -> dict:
    def run(label: str, wall: float, live: float) -> dict:
        groups = {"(none)": {"tests": 90, "wall_s": 300.5, "cpu_s": 250.25}, "live": {"tests": 10, "wall_s": live,
                                                                                      "cpu_s": 100.0}}
        return {"label": label, "commit": "abc1234", "wall_s": wall, "exit": 0, "load_avg_1m_at_record": 1.5,
                "note": f"{label} note", "tests": 100, "wall_sum_s": 300.5 + live, "cpu_sum_s": 350.25,
                "live": groups["live"], "groups": groups,
                "workers": {"gw0": {"tests": 20, "wall_s": live, "cpu_s": 100.0},
                            "gw1": {"tests": 80, "wall_s": 300.5, "cpu_s": 250.25}},
                "slowest": [{"test": "tests/live/test_x.py::test_y", "wall_s": 40.5, "cpu_s": 20.0, "group": "live"}]}

    return {"benchmark": "make_test", "date": "2031-02-03T08:00:00+00:00", "machine": MACHINE,
            "versions": {"pytest": "9.2.0"}, "command": ".venv/bin/python bench/make_test.py",
            "runs": [run("before", 750.0, 450.0), run("after", 400.0, 350.0)]}


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """Four result files; plan_verify.json is missing on purpose."""
    for doc in (overhead_doc(), scaling_doc(), hop_doc(), make_test_doc()):
        (tmp_path / f"{doc['benchmark']}.json").write_text(json.dumps(doc))
    return tmp_path


def section(text: str, title: str) -> str:
    """The text of the `## <title>` section."""
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end == -1 else text[start:end]


def test_a_missing_result_file_renders_as_not_measured_yet_with_its_command(results_dir: Path) -> None:
    text = render_docs.render(render_docs.load_results(results_dir))
    verify = section(text, "Plan + verify wall time")
    assert "Not measured yet: run `make bench-plan-verify` (`.venv/bin/python bench/plan_verify.py`)" in verify
    assert "| stack |" not in verify
    assert "Not measured yet" not in section(text, "Offline plan overhead")


def test_each_section_names_date_machine_versions_and_the_command(results_dir: Path) -> None:
    text = render_docs.render(render_docs.load_results(results_dir))
    overhead = section(text, "Offline plan overhead")
    assert ("2031-02-03T04:05:06+00:00 on 7 CPUs, 12.5 GiB, Python 3.11.99 (Linux-fixture); "
            "load average 3.25 at start") in overhead
    assert "pulumi 9.8.7, pulumi-kubernetes 6.5.4" in overhead
    assert "These figures: `.venv/bin/python bench/plan_overhead.py`" in overhead
    assert "Reproduce: `make bench-plan-overhead`" in overhead
    hop = section(text, "Tenant gateway hop")
    assert "litellm 1.100.1" in hop and "Reproduce: `make bench-gateway-hop`" in hop


def test_a_reduced_run_is_labelled_and_points_to_the_full_run(results_dir: Path) -> None:
    scaling = section(render_docs.render(render_docs.load_results(results_dir)),
                      "Offline plan scaling with tenants and models")
    assert "These figures: `.venv/bin/python bench/plan_scaling.py --tenants 1 10 --repeats 3`" in scaling
    assert "Reduced or custom run; the full run is `make bench-plan-scaling`" in scaling
    assert "Reproduce: `make bench-plan-scaling`" not in scaling


def test_the_page_warns_up_front_which_sections_come_from_reduced_runs(results_dir: Path) -> None:
    text = render_docs.render(render_docs.load_results(results_dir))
    head = text[:text.index("\n## ")]
    assert "**Reduced runs:** the figures in Offline plan scaling with tenants and models were measured" in head
    assert "Offline plan overhead" not in head and "Tenant gateway hop" not in head


def test_tables_carry_the_numbers_from_the_result_files(results_dir: Path) -> None:
    text = render_docs.render(render_docs.load_results(results_dir))
    assert "| dev | 75 | 7 | 0.432 | 0.654 | 0.211 | 2.05x | 3.1x |" in section(text, "Offline plan overhead")
    assert "Median of 5 repeats per side (in-process fixture mode)." in text
    scaling = section(text, "Offline plan scaling with tenants and models")
    assert "| grid | 10 | 1 | 100 | 1.1 | 1.6 | 9% | 0.25 | 1.35 | 16.0 | 210.0 | 10.5 |" in scaling
    assert ("| untrusted | total_s | tenants | models=1 | 109/217/697 | 0.5 | 0.91 | 9.25 ms | 0.999 | "
            "3.5 ms/resource (2.5 to 4.12) | 9.88 ms/resource (9.5 to 10.2) | 5% | NON-LINEAR") in scaling
    assert ("| 143 | 0.002 | 0.2 | - | - | 2 ms/tenant (-1.5 to 5.5) | 0.25 ms/tenant (-0.5 to 1) | 12% | "
            "flat") in scaling
    assert "| 8 | 1.25 | 2.5 | 11.8 | 19.5 | 10.5 | 17.0 |" in section(text, "Tenant gateway hop")
    assert "123 requests per concurrency level" in text


def test_non_linear_series_are_named_not_hidden(results_dir: Path) -> None:
    scaling = section(render_docs.render(render_docs.load_results(results_dir)),
                      "Offline plan scaling with tenants and models")
    assert "NON-LINEAR (last segment's marginal cost is at least 2.3x the first's, repeat spread up to 5%)" in scaling
    assert "**Not linear** in 1 of 4 tested series: total_s vs tenants (untrusted, models=1)." in scaling
    assert "**Undecided** in 1 series: the repeats spread too widely" in scaling
    assert "**Linearity not tested** in 1 series (fewer than 3 distinct x values, or one repeat per point)." in scaling
    assert "No tested series grows faster than linearly" not in scaling


def test_the_criteria_printed_are_the_ones_the_verdicts_use(results_dir: Path) -> None:
    scaling = section(render_docs.render(render_docs.load_results(results_dir)),
                      "Offline plan scaling with tenants and models")
    benchlib = load_bench_module("benchlib")
    assert (f"widened to at least {100 * benchlib.NOISE_FLOOR:.0f}% of its median "
            f"({100 * benchlib.MEMORY_FLOOR:g}% for peak memory") in scaling
    assert f"within {benchlib.MARGINAL_LIMIT}x the earlier points'" in scaling
    assert f"medians lie within {100 * benchlib.FLAT_SPREAD:.0f}% of their mean" in scaling


def test_all_linear_series_are_reported_as_such(tmp_path: Path) -> None:
    doc = scaling_doc()
    doc["fits"] = [f for f in doc["fits"] if f["verdict"].startswith(("linear", "flat"))]
    (tmp_path / "plan_scaling.json").write_text(json.dumps(doc))
    text = render_docs.render(render_docs.load_results(tmp_path))
    assert "No tested series grows faster than linearly (2 of 2 decided)." in text
    assert "**Not linear**" not in text and "**Linearity not tested**" not in text and "**Undecided**" not in text


def test_with_no_results_every_benchmark_says_how_to_measure_it(tmp_path: Path) -> None:
    text = render_docs.render(render_docs.load_results(tmp_path))
    for target in ("bench-plan-overhead", "bench-plan-scaling", "bench-plan-verify", "bench-gateway-hop"):
        assert f"Not measured yet: run `make {target}`" in text


def test_main_writes_the_page_it_renders(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "benchmarks.md"
    out.parent.mkdir()
    assert render_docs.main(["--results", str(results_dir), "--out", str(out)]) == 0
    assert out.read_text() == render_docs.render(render_docs.load_results(results_dir))


def test_every_documented_make_target_exists_in_the_makefile() -> None:
    makefile = (Path(render_docs.ROOT) / "Makefile").read_text()
    for bench in render_docs.BENCHMARKS:
        assert f"\n{bench.make_target}:" in makefile
        assert f"$(BIN)/python {bench.script}\n" in makefile
    assert "\nbench-docs:" in makefile and "\nbench:" in makefile


def plan_verify_doc() -> dict:
    return {
        "benchmark": "plan_verify", "date": "2031-02-03T07:00:00+00:00", "machine": MACHINE,
        "versions": {"checkov": "3.3.30"}, "command": ".venv/bin/python bench/plan_verify.py", "repeats": 1,
        "rows": [{"stack": "dev", "resources": 75, "plan_s": 4.5, "plan_exit": 0, "verify_s": 50.25, "verify_exit": 0,
                  "total_s": 54.75},
                 {"stack": "prod", "resources": 122, "plan_s": 8.25, "plan_exit": 0, "verify_s": 40.5,
                  "verify_exit": 1, "total_s": 48.75}],
    }


def glance(text: str) -> str:
    return section(text, "At a glance")


def test_the_page_opens_with_one_short_table_per_question_before_any_detail(results_dir: Path) -> None:
    (results_dir / "plan_verify.json").write_text(json.dumps(plan_verify_doc()))
    text = render_docs.render(render_docs.load_results(results_dir))
    assert text.index("## At a glance") < min(text.index(f"## {b.title}\n") for b in render_docs.BENCHMARKS)
    head = glance(text)
    questions = [q for q, _, _ in render_docs.GLANCE]
    assert [line[4:] for line in head.splitlines() if line.startswith("### ")] == questions
    for question in questions:
        part = head[head.index(question):]
        part = part[:part.find("\n### ")] if "\n### " in part else part
        assert sum(line.startswith("|---") for line in part.splitlines()) == 1, f"{question}: one table"
    # The fits stay in their own section, below.
    assert "r² (resources)" not in head and "verdict" not in head


def test_the_pr_check_question_is_answered_from_plan_verify(results_dir: Path) -> None:
    (results_dir / "plan_verify.json").write_text(json.dumps(plan_verify_doc()))
    head = glance(render_docs.render(render_docs.load_results(results_dir)))
    assert "| dev | 75 | 4.5 | 50.2 | 54.8 |" in head
    assert "| prod | 122 | 8.25 | 40.5 | 48.8 (exit 0/1) |" in head, "a failed verify is shown next to its time"
    assert "waits about 54.8 s for plan + verify (103.5 s one after the other on one 7-CPU machine)" in head


def test_the_gateway_question_shows_only_what_the_gateway_adds(results_dir: Path) -> None:
    head = glance(render_docs.render(render_docs.load_results(results_dir)))
    part = head[head.index("What does the tenant gateway add"):head.index("How does the plan grow")]
    assert "| 8 | 10.5 | 17.0 |" in part
    assert "11.8" not in part, "the through-gateway latency itself belongs to the detailed section"


def test_the_growth_question_lines_up_both_tiers_by_tenant_count(results_dir: Path) -> None:
    doc = scaling_doc()
    doc["rows"] += [{**doc["rows"][0], "series": "untrusted", "tenants": t, "resources": 100 + 12 * t,
                     "total_s": 0.5 + t / 10, "peak_rss_mib": 300.0 + t} for t in (1, 20)]
    (results_dir / "plan_scaling.json").write_text(json.dumps(doc))
    head = glance(render_docs.render(render_docs.load_results(results_dir)))
    assert "| 1 | 91 | 1.51 | 112 | 0.6 | 301.0 |" in head
    assert "| 10 | 100 | 1.6 | - | - | - |" in head
    assert "| 20 | - | - | 340 | 2.5 | 320.0 |" in head
    assert "(12 resources each)" in head
    assert "untrusted plan time is NON-LINEAR at 9.25 ms per resource" in head


def test_a_question_without_its_result_file_says_how_to_measure_it(results_dir: Path) -> None:
    head = glance(render_docs.render(render_docs.load_results(results_dir)))
    part = head[head.index("How long does a pull-request check take?"):head.index("What does the tenant gateway")]
    assert "Not measured yet: run `make bench-plan-verify`" in part and "|---" not in part


def test_the_fim_hop_states_first_chunk_and_total_added_with_the_request_shape(results_dir: Path) -> None:
    text = render_docs.render(render_docs.load_results(results_dir))
    hop = section(text, "Tenant gateway hop")
    assert "`POST /v1/completions`, a 283-character code prompt with FIM markers (32 words), `max_tokens` 16, " \
           "streamed" in hop and "16 text chunks reached the client" in hop and "77 requests per" in hop
    assert "| 1 | 1.5 / 2.25 | 30.5 / 42.0 | 29.0 / 39.8 | 2 / 3 | 45.5 / 61.0 | 43.5 / 58.0 |" in hop
    glance = text[text.index("What does the gateway add to an IDE's autocomplete?"):text.index("How does the plan grow")]
    assert "| 1 | 29.0 / 39.8 | 43.5 / 58.0 |" in glance and "30.5" not in glance


def test_a_hop_result_without_fim_rows_says_they_were_not_measured(results_dir: Path) -> None:
    doc = hop_doc()
    del doc["fim_rows"]
    (results_dir / "gateway_hop.json").write_text(json.dumps(doc))
    hop = section(render_docs.render(render_docs.load_results(results_dir)), "Tenant gateway hop")
    assert "FIM-sized streamed requests: not measured in this run" in hop


def test_a_run_on_a_busy_machine_says_its_latencies_are_upper_bounds(results_dir: Path) -> None:
    quiet = render_docs.render(render_docs.load_results(results_dir))
    assert "upper bounds" not in quiet  # the fixture's load 3.25 on 7 CPUs
    doc = {**hop_doc(), "machine": {**MACHINE, "load_avg_1m": 9.5, "cpus": 2}}
    (results_dir / "gateway_hop.json").write_text(json.dumps(doc))
    head = glance(render_docs.render(render_docs.load_results(results_dir)))
    assert head.count("(load average 9.5 on 2 CPUs): both paths were slowed, so read these as upper bounds.") == 2
def test_the_make_test_question_lists_each_run_with_its_live_group_and_cpu(results_dir: Path) -> None:
    text = render_docs.render(render_docs.load_results(results_dir))
    head = glance(text)
    part = head[head.index("How long does `make test` take?"):]
    assert "| before | `abc1234` | 750.0 | 100 | 450.0 | 350.2 | 1.5 |" in part
    assert "| after | `abc1234` | 400.0 | 100 | 350.0 | 350.2 | 1.5 |" in part
    detail = section(text, "How long make test takes")
    assert "### before (`abc1234`): 750.0 s" in detail and "before note" in detail
    assert "| live | 10 | 450.0 | 100.0 |" in detail
    assert "| `tests/live/test_x.py::test_y` | 40.5 | 20.0 | live |" in detail
