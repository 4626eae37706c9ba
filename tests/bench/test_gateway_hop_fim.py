"""The gateway-hop benchmark's FIM path (bench/gateway_hop.py): a streamed, FIM-sized /completions request
timed to its first text chunk and to `[DONE]`, here against the fake backend alone (the benchmark itself,
through the real proxy, is `make bench-gateway-hop`, not part of the suite)."""

from __future__ import annotations

import asyncio

import pytest

from tests.bench.benchmods import load_bench_module
from tests.support.livestack.fake_backend import FakeOpenAIBackend

hop = load_bench_module("gateway_hop")


def run(coro):
    """Run `coro` on a loop of its own. Not asyncio.run: it leaves the main thread without a current event loop
    (set_event_loop(None)), and the Pulumi SDK that later tests in this process run asks for one."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def test_a_fim_request_streams_16_chunks_timed_to_the_first_and_the_last() -> None:
    with FakeOpenAIBackend(models=("coder",)) as backend:
        samples = run(hop.timed_fim_calls(backend.url, "unused", "coder", count=3, concurrency=2))
        sent = backend.completion_requests()
    assert len(samples) == 3
    assert all(s.chunks == hop.FIM_TOKENS == 16 for s in samples)
    assert all(0 < s.first_chunk_ms <= s.total_ms for s in samples)
    assert {(r.path, r.body["max_tokens"], r.body["stream"], r.body["prompt"]) for r in sent} == \
        {("/v1/completions", 16, True, hop.FIM_PROMPT)}


def test_a_refused_fim_request_stops_the_benchmark() -> None:
    with FakeOpenAIBackend(models=("coder",)) as backend:
        backend.fail_next(1, 429)
        with pytest.raises(RuntimeError, match="HTTP 429"):
            run(hop.timed_fim_calls(backend.url, "unused", "coder", count=2, concurrency=1))


def test_the_fim_row_is_gateway_minus_direct_for_first_chunk_and_total() -> None:
    direct = [hop.StreamSample(1.0 + i, 2.0 + i, 16) for i in range(5)]  # ttfc 1..5, total 2..6
    gateway = [hop.StreamSample(11.0 + 2 * i, 20.0 + 2 * i, 16) for i in range(5)]  # ttfc 11..19, total 20..28
    row = hop.fim_row(1, direct, gateway)
    assert tuple(row) == hop.FIM_COLUMNS
    assert row["direct_ttfc_p50_ms"] == 3.0 and row["gateway_ttfc_p50_ms"] == 15.0
    assert row["added_ttfc_p50_ms"] == 12.0 and row["added_total_p50_ms"] == 24.0 - 4.0
    assert row["added_ttfc_p95_ms"] == pytest.approx(18.6 - 4.8)


def test_the_fim_request_goes_to_the_model_an_ide_autocompletes_with() -> None:
    from tests.ide.stacks import config

    assert hop.fim_model(config("prod")) == "qwen2.5-coder-7b"
    assert hop.fim_model(config("vast")) == config("vast").models[0].served_name  # no FIM model: the first
