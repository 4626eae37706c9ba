"""Latency the LiteLLM gateway hop adds: direct calls to a model server vs the same calls through the proxy.

A benchmark script, not a test. It starts real PostgreSQL and Redis and one LiteLLM proxy with the
prod config the program renders (fail-closed budgets, Redis coordination, the cache-salt hook),
pointed at the fake OpenAI-compatible backend (`tests.support.livestack`, in a child process),
creates one tenant team with a key, and at each concurrency level sends `--requests` chat calls
straight to the backend and as many through the proxy with the tenant key (after `--warmup` calls
of each, then alternating the two paths in rounds). The backend answers at once, so "gateway minus
direct" is what the proxy itself costs (auth, budget reservation, hook, routing, spend logging).
Both paths share one load-generating client, so its own overhead cancels in the difference.

Usage: .venv/bin/python bench/gateway_hop.py [--concurrency 1 8 32] [--requests 400] [--warmup 40]
Prints a table and writes bench/results/gateway_hop.json (`make bench-docs` renders docs/benchmarks.md from it).
Needs what the live tests need (`make live-deps`; Debian postgresql, redis-server, nodejs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
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


def run(levels: Sequence[int], count: int, warmup: int) -> list[Row]:
    with backend_process() as backend, PostgresServer() as pg, RedisServer() as redis:
        gw = rendered_gateway("prod", backend)  # type: ignore[arg-type]  # reads only url and api_key
        model = gw.models[0]
        with LiteLLMProxy(gw.config, postgres=pg, redis=redis if gw.redis else None, database="bench_gateway_hop",
                          extra_files=gw.extra_files, env=gw.env, name="bench") as proxy:
            print(f"proxy ready in {proxy.startup_seconds:.0f} s; model {model}", file=sys.stderr)
            team = proxy.admin("POST", "/team/new", {"team_alias": "bench", "max_budget": TENANT_BUDGET_USD,
                                                     "models": [model]})
            key = proxy.admin("POST", "/key/generate", {"team_id": team["team_id"], "models": [model]})["key"]
            paths = {"direct": (backend.url, backend.api_key or "unused"), "gateway": (proxy.url, key)}
            rows = []
            for c in levels:
                for url, auth in paths.values():
                    asyncio.run(timed_calls(url, auth, model, count=warmup, concurrency=c))
                samples: dict[str, list[float]] = {name: [] for name in paths}
                # Alternate the paths in rounds so a change in background load hits both alike.
                for share in round_sizes(count, ROUNDS):
                    for name, (url, auth) in paths.items():
                        samples[name] += asyncio.run(timed_calls(url, auth, model, count=share, concurrency=c))
                rows.append(summary_row(c, samples["direct"], samples["gateway"]))
                print(f"concurrency {c}: done", file=sys.stderr)
    return rows


def table(rows: Sequence[Row]) -> str:
    lines = [" | ".join(COLUMNS)]
    lines += [" | ".join(f"{row[c]:>{len(c)}}" for c in COLUMNS) for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32],
                        help="requests in flight at once, one result row per value (default: 1 8 32)")
    parser.add_argument("--requests", type=int, default=400, help="measured calls per path and level (default 400)")
    parser.add_argument("--warmup", type=int, default=40, help="unmeasured calls per path and level first (default 40)")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS_DIR,
                        help=f"folder for {NAME}.json (default %(default)s)")
    args = parser.parse_args(argv)
    if args.requests < 2 or min(args.concurrency) < 1 or args.warmup < 0:
        parser.error("--requests must be >= 2, --warmup >= 0 and every --concurrency >= 1")

    machine = benchlib.machine()  # before the run: its load average says what else competed for the CPUs
    started = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    rows = run(args.concurrency, args.requests, args.warmup)
    result = {
        "benchmark": NAME,
        "date": started,
        "machine": machine,
        "versions": {"litellm": LITELLM_VERSION},
        "command": benchlib.command_line(f"{NAME}.py", argv),
        "requests_per_level": args.requests,
        "rows": rows,
    }
    path = benchlib.write_result(result, args.out)
    print(table(rows))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
