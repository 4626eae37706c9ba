"""Latency the LiteLLM gateway hop adds: direct calls to a model server vs the same calls through the proxy.

A benchmark script, not a test. It starts real PostgreSQL and Redis and one LiteLLM proxy with the
prod config the program renders (fail-closed budgets, Redis coordination, the cache-salt hook),
pointed at the fake OpenAI-compatible backend (`tests.support.livestack`, in a child process),
creates one tenant team with a key, and at each concurrency level sends `--requests` chat calls
straight to the backend and as many through the proxy with the tenant key (after `--warmup` calls
of each, then alternating the two paths in rounds). The backend answers at once, so "gateway minus
direct" is what the proxy itself costs (auth, budget reservation, hook, routing, spend logging).
Both paths share one load-generating client, so its own overhead cancels in the difference.

Then the same for what an IDE sends while one types: a FIM-sized request (`/completions`, a short code
prompt, `max_tokens` 16, streamed; the backend sends one chunk per token), measuring the time to the first
text chunk and to the end of the stream, at `--fim-concurrency` levels.

Usage: .venv/bin/python bench/gateway_hop.py [--concurrency 1 8 32] [--requests 400] [--warmup 40]
       [--fim-concurrency 1 8] [--fim-requests 200]
Prints a table and writes bench/results/gateway_hop.json (`make bench-docs` renders docs/benchmarks.md from it).
Needs what the live tests need (`make live-deps`; Debian postgresql, redis-server, nodejs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import multiprocessing
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

# The live stack is test support (tests/support/, not installed): import it from this checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402 - bench/ is not a package
from tests.support.livestack.litellm_env import LITELLM_VERSION  # noqa: E402
from tests.support.livestack.platform import rendered_gateway  # noqa: E402
from tests.support.livestack.postgres import PostgresServer  # noqa: E402
from tests.support.livestack.proxy import LiteLLMProxy  # noqa: E402
from tests.support.livestack.redis import RedisServer  # noqa: E402

NAME = "gateway_hop"
PROMPT = "how long does the gateway hop take"
TENANT_BUDGET_USD = 1_000_000.0
"""Large enough that no benchmark run reaches it: refusals would be faster than answers."""
ROUNDS = 4
"""Each level's calls are split into this many rounds, direct then gateway in each."""
COLUMNS = ("concurrency", "direct_p50_ms", "direct_p95_ms", "gateway_p50_ms", "gateway_p95_ms",
           "added_p50_ms", "added_p95_ms")

FIM_PROMPT = ("<|fim_prefix|>def median(values: list[float]) -> float:\n    ordered = sorted(values)\n"
              "    mid = len(ordered) // 2\n    if len(ordered) % 2 == 1:\n        return ordered[mid]\n"
              "    <|fim_suffix|>\n\n\ndef mean(values: list[float]) -> float:\n    return sum(values) / len(values)\n"
              "<|fim_middle|>")
"""A short FIM prompt as an IDE sends it for a completion inside a small function (about 80 tokens). The fake
backend echoes the prompt's words, so it has more than FIM_TOKENS of them to send back."""
FIM_TOKENS = 16
"""`max_tokens` of each FIM request: one line of code, what autocomplete asks for while one types."""
FIM_COLUMNS = ("concurrency", "direct_ttfc_p50_ms", "direct_ttfc_p95_ms", "gateway_ttfc_p50_ms", "gateway_ttfc_p95_ms",
               "added_ttfc_p50_ms", "added_ttfc_p95_ms", "direct_total_p50_ms", "direct_total_p95_ms",
               "gateway_total_p50_ms", "gateway_total_p95_ms", "added_total_p50_ms", "added_total_p95_ms")

Row = dict[str, float | int]


def percentile(samples: Sequence[float], pct: int) -> float:
    """The pct-th percentile (1..99) of samples, interpolating linearly between closest ranks."""
    if len(samples) < 2:
        return float(samples[0])
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


def summary_row(concurrency: int, direct: Sequence[float], gateway: Sequence[float]) -> Row:
    """One result row: p50/p95 of each path in ms and what the gateway adds (gateway minus direct)."""
    d50, d95, g50, g95 = (percentile(s, p) for s in (direct, gateway) for p in (50, 95))
    return {"concurrency": concurrency, "direct_p50_ms": round(d50, 2), "direct_p95_ms": round(d95, 2),
            "gateway_p50_ms": round(g50, 2), "gateway_p95_ms": round(g95, 2),
            "added_p50_ms": round(g50 - d50, 2), "added_p95_ms": round(g95 - d95, 2)}


@dataclass(frozen=True)
class StreamSample:
    """One streamed request as the client saw it: ms to the first text chunk, ms to `[DONE]`, text chunks."""

    first_chunk_ms: float
    total_ms: float
    chunks: int


def fim_row(concurrency: int, direct: Sequence[StreamSample], gateway: Sequence[StreamSample]) -> Row:
    """One FIM result row: p50/p95 of time to first chunk (ttfc) and of the whole stream (total) on each path,
    and what the gateway adds to each (gateway percentile minus direct percentile)."""
    row: Row = {"concurrency": concurrency}
    for metric, attr in (("ttfc", "first_chunk_ms"), ("total", "total_ms")):
        for pct in (50, 95):
            d = percentile([getattr(s, attr) for s in direct], pct)
            g = percentile([getattr(s, attr) for s in gateway], pct)
            row[f"direct_{metric}_p{pct}_ms"] = round(d, 2)
            row[f"gateway_{metric}_p{pct}_ms"] = round(g, 2)
            row[f"added_{metric}_p{pct}_ms"] = round(g - d, 2)
    return {k: row[k] for k in FIM_COLUMNS}


async def timed_fim_calls(url: str, key: str, model: str, *, count: int, concurrency: int) -> list[StreamSample]:
    """`count` streamed FIM-sized `/completions` calls to `url`, `concurrency` in flight; raises on a non-200,
    a stream without `[DONE]` or one without text."""
    body = {"model": model, "prompt": FIM_PROMPT, "max_tokens": FIM_TOKENS, "temperature": 0, "stream": True}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    samples: list[StreamSample] = []
    pending = iter(range(count))
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=60, trust_env=False) as client:
        async def worker() -> None:
            for _ in pending:
                start = time.perf_counter()
                first: float | None = None
                chunks, done = 0, False
                async with client.stream("POST", "/completions", json=body) as resp:
                    if resp.status_code != 200:
                        raise RuntimeError(f"{url}: HTTP {resp.status_code} {(await resp.aread())[:300]!r}")
                    async for line in resp.aiter_lines():
                        if not line.startswith("data:"):
                            continue
                        data = line[5:].strip()
                        if data == "[DONE]":
                            done = True
                            break
                        if any(c.get("text") for c in json.loads(data).get("choices") or []):
                            chunks += 1
                            first = first if first is not None else time.perf_counter()
                end = time.perf_counter()
                if not done or first is None:
                    raise RuntimeError(f"{url}: stream ended without [DONE] or text ({chunks} chunks)")
                samples.append(StreamSample((first - start) * 1000, (end - start) * 1000, chunks))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


def round_sizes(count: int, rounds: int) -> list[int]:
    """`count` split into `rounds` near-equal non-empty parts (fewer parts when count < rounds)."""
    rounds = max(1, min(rounds, count))
    return [count // rounds + (1 if i < count % rounds else 0) for i in range(rounds)]


async def timed_calls(url: str, key: str, model: str, *, count: int, concurrency: int) -> list[float]:
    """Latency in ms of `count` chat calls to `url`, `concurrency` in flight; raises on any non-200."""
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    pending = iter(range(count))  # shared by the workers: each takes the next call until none are left
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=60, trust_env=False) as client:
        async def worker() -> None:
            for _ in pending:
                start = time.perf_counter()
                resp = await client.post("/chat/completions", json=body)
                elapsed = (time.perf_counter() - start) * 1000
                if resp.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {resp.status_code} {resp.text[:300]}")
                latencies.append(elapsed)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


@dataclass(frozen=True)
class BackendAddress:
    """What `rendered_gateway()` reads from a backend: where it listens and the key it wants."""

    url: str
    api_key: str | None


def _serve_backend(conn: Connection) -> None:
    """Child process: a FakeOpenAIBackend until the parent closes the pipe.

    A process of its own, so its threads do not share one GIL with the load generator.
    """
    from tests.support.livestack import fake_backend

    with fake_backend.FakeOpenAIBackend() as backend:
        conn.send(BackendAddress(backend.url, backend.api_key))
        with contextlib.suppress(EOFError):
            conn.recv()


@contextlib.contextmanager
def backend_process() -> Iterator[BackendAddress]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve_backend, args=(child,), name="fake-backend", daemon=True)
    proc.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the fake backend process did not start within 60 s")
        yield parent.recv()
    finally:
        parent.close()
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)


def fim_model(cfg) -> str:
    """The served name of the stack's first model an IDE autocompletes with (capability `completions` and a FIM
    token format, as `llmp ide-config` picks), else its first model."""
    return next((m.served_name for m in cfg.models if "completions" in m.capabilities and m.fim),
                cfg.models[0].served_name)


def _measure(paths: dict[str, tuple[str, str]], calls, model: str, count: int, warmup: int,
             concurrency: int) -> dict[str, list]:
    """Warm up each path, then alternate the paths in rounds so a change in background load hits both alike."""
    for url, auth in paths.values():
        asyncio.run(calls(url, auth, model, count=warmup, concurrency=concurrency))
    samples: dict[str, list] = {name: [] for name in paths}
    for share in round_sizes(count, ROUNDS):
        for name, (url, auth) in paths.items():
            samples[name] += asyncio.run(calls(url, auth, model, count=share, concurrency=concurrency))
    return samples


def run(levels: Sequence[int], count: int, warmup: int, fim_levels: Sequence[int] = (),
        fim_count: int = 0) -> tuple[list[Row], list[Row], list[int], str]:
    """(chat rows, FIM rows, the text-chunk counts seen per FIM stream through the gateway, the FIM model)."""
    with backend_process() as backend, PostgresServer() as pg, RedisServer() as redis:
        gw = rendered_gateway("prod", backend)  # type: ignore[arg-type]  # reads only url and api_key
        model, fim = gw.models[0], fim_model(gw.cfg)
        with LiteLLMProxy(gw.config, postgres=pg, redis=redis if gw.redis else None, database="bench_gateway_hop",
                          extra_files=gw.extra_files, env=gw.env, name="bench") as proxy:
            print(f"proxy ready in {proxy.startup_seconds:.0f} s; chat model {model}, FIM model {fim}", file=sys.stderr)
            models = sorted({model, fim})
            team = proxy.admin("POST", "/team/new", {"team_alias": "bench", "max_budget": TENANT_BUDGET_USD,
                                                     "models": models})
            key = proxy.admin("POST", "/key/generate", {"team_id": team["team_id"], "models": models})["key"]
            paths = {"direct": (backend.url, backend.api_key or "unused"), "gateway": (proxy.url, key)}
            rows, fim_rows, chunk_counts = [], [], []
            for c in levels:
                samples = _measure(paths, timed_calls, model, count, warmup, c)
                rows.append(summary_row(c, samples["direct"], samples["gateway"]))
                print(f"concurrency {c}: done", file=sys.stderr)
            for c in fim_levels:
                samples = _measure(paths, timed_fim_calls, fim, fim_count, warmup, c)
                fim_rows.append(fim_row(c, samples["direct"], samples["gateway"]))
                chunk_counts += [s.chunks for s in samples["gateway"]]
                print(f"FIM concurrency {c}: done", file=sys.stderr)
    return rows, fim_rows, sorted(set(chunk_counts)), fim


def table(rows: Sequence[Row], columns: Sequence[str] = COLUMNS) -> str:
    lines = [" | ".join(columns)]
    lines += [" | ".join(f"{row[c]:>{len(c)}}" for c in columns) for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32],
                        help="requests in flight at once, one result row per value (default: 1 8 32)")
    parser.add_argument("--requests", type=int, default=400, help="measured calls per path and level (default 400)")
    parser.add_argument("--warmup", type=int, default=40, help="unmeasured calls per path and level first (default 40)")
    parser.add_argument("--fim-concurrency", type=int, nargs="*", default=[1, 8],
                        help="FIM-sized streamed requests in flight, one FIM row per value (default: 1 8; none: skip)")
    parser.add_argument("--fim-requests", type=int, default=200,
                        help="measured FIM calls per path and level (default 200)")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS_DIR,
                        help=f"folder for {NAME}.json (default %(default)s)")
    args = parser.parse_args(argv)
    if args.requests < 2 or min(args.concurrency) < 1 or args.warmup < 0:
        parser.error("--requests must be >= 2, --warmup >= 0 and every --concurrency >= 1")
    if args.fim_concurrency and (args.fim_requests < 2 or min(args.fim_concurrency) < 1):
        parser.error("--fim-requests must be >= 2 and every --fim-concurrency >= 1")

    machine = benchlib.machine()  # before the run: its load average says what else competed for the CPUs
    started = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    rows, fim_rows, fim_chunks, fim = run(args.concurrency, args.requests, args.warmup, args.fim_concurrency,
                                     args.fim_requests)
    result = {
        "benchmark": NAME,
        "date": started,
        "machine": machine,
        "versions": {"litellm": LITELLM_VERSION},
        "command": benchlib.command_line(f"{NAME}.py", argv),
        "requests_per_level": args.requests,
        "rows": rows,
        "fim_request": {"endpoint": "/v1/completions", "model": fim, "stream": True, "max_tokens": FIM_TOKENS,
                        "prompt_chars": len(FIM_PROMPT), "prompt_words": len(FIM_PROMPT.split()),
                        "text_chunks_seen": fim_chunks},
        "fim_requests_per_level": args.fim_requests,
        "fim_rows": fim_rows,
    }
    path = benchlib.write_result(result, args.out)
    print(table(rows))
    if fim_rows:
        print(table(fim_rows, FIM_COLUMNS))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
