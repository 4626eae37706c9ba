"""The load generator against local fake OpenAI-compatible pods behind a fake gateway."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from llmp.multigpu.loadgen import LoadSpec, Target, run_load
from tests.vast.fakes import API_KEY, MODEL, fake_cluster


def target(base_url: str, key: str = API_KEY) -> Target:
    return Target(base_url=base_url, model=MODEL, headers={"Authorization": f"Bearer {key}"})


def test_every_streamed_response_completes_and_names_the_pod_that_served_it() -> None:
    with fake_cluster(2) as c:
        pods = set(c.pods)
        result = asyncio.run(run_load(target(c.base_url), LoadSpec(requests=40, concurrency=4)))
    assert result.sent == 40 and result.succeeded == 40 and not result.failed
    assert all(r.complete and not r.cut_off and r.status == 200 and r.bytes > 0 for r in result.records)
    assert all(r.ttft_s is not None and r.ttft_s <= r.latency_s for r in result.records)
    assert set(result.served_counts()) == pods and sum(result.served_counts().values()) == 40
    assert [r.index for r in result.records] == list(range(40))


def test_non_streamed_responses_complete_too() -> None:
    with fake_cluster(2) as c:
        result = asyncio.run(run_load(target(c.base_url), LoadSpec(requests=10, concurrency=2, stream=False)))
    assert result.succeeded == 10 and all(r.ttft_s is None for r in result.records)


def test_the_request_bound_is_never_exceeded_whatever_the_concurrency() -> None:
    with fake_cluster(2) as c:
        result = asyncio.run(run_load(target(c.base_url), LoadSpec(requests=7, concurrency=16)))
    assert result.sent == 7


def test_the_duration_bound_stops_starting_requests() -> None:
    with fake_cluster(1, delay_s=0.05) as c:
        t0 = time.monotonic()
        result = asyncio.run(run_load(target(c.base_url), LoadSpec(requests=10_000, duration_s=0.5, concurrency=2)))
    assert time.monotonic() - t0 < 2.0
    assert 0 < result.sent < 100 and all(r.started_s <= 0.5 for r in result.records)


def test_a_stop_event_ends_the_run_early() -> None:
    async def go():
        stop = asyncio.Event()
        task = asyncio.create_task(run_load(target(c.base_url), LoadSpec(requests=10_000, duration_s=30, concurrency=2),
                                            stop=stop))
        await asyncio.sleep(0.3)
        stop.set()
        return await task

    with fake_cluster(1) as c:
        result = asyncio.run(go())
    assert 0 < result.sent < 10_000 and result.succeeded == result.sent


def test_a_pod_killed_mid_stream_shows_as_cut_off_not_as_success() -> None:
    with fake_cluster(1, delay_s=0.05, chunks=10) as c:
        (name,) = c.pods
        threading.Timer(0.2, c.kill, args=(name,)).start()
        result = asyncio.run(run_load(target(c.base_url), LoadSpec(requests=2, concurrency=2)))
    assert len(result.cut_off) == 2
    assert all(r.status == 200 and not r.complete and r.error for r in result.cut_off)


def test_a_failing_pod_shows_its_status_and_error() -> None:
    with fake_cluster(1, fail=True) as c:
        result = asyncio.run(run_load(target(c.base_url), LoadSpec(requests=5, concurrency=1)))
    assert {r.status for r in result.records} == {500} and len(result.failed) == 5 and not result.cut_off
    assert result.summary()["statuses"] == {"500": 5}


def test_a_wrong_key_is_a_failure_too() -> None:
    with fake_cluster(1) as c:
        result = asyncio.run(run_load(target(c.base_url, key="wrong"), LoadSpec(requests=3, concurrency=1)))
    assert {r.status for r in result.records} == {401}


def test_an_unreachable_gateway_is_recorded_as_no_response() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = asyncio.run(run_load(target(f"http://127.0.0.1:{port}"), LoadSpec(requests=3, concurrency=1)))
    assert all(r.status is None and "ConnectError" in (r.error or "") for r in result.records)


def test_prompts_carry_a_unique_prefix_so_prefix_affinity_cannot_pin_one_pod() -> None:
    from llmp.multigpu.loadgen import chat_body

    t, spec = target("http://x"), LoadSpec()
    firsts = {chat_body(t, spec, i)["messages"][0]["content"][:14] for i in range(50)}
    assert len(firsts) == 50


@pytest.mark.parametrize("bad", [{"requests": 0}, {"concurrency": 0}, {"duration_s": 0}, {"max_tokens": 0}])
def test_a_spec_outside_its_bounds_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match="invalid load spec"):
        asyncio.run(run_load(target("http://127.0.0.1:1"), LoadSpec(**bad)))
