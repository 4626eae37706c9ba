"""A bounded, closed-loop load generator for OpenAI-compatible chat completions (asyncio + httpx).

`concurrency` workers send requests back to back until `requests` have been sent, `duration_s` has
passed, or a stop event is set, whichever comes first: a run never outlives its bounds. Each
response becomes a `ResponseRecord`: status, latency, time to first token, bytes, whether it
completed, whether it was cut off (a stream that started and ended without a finish reason and
`[DONE]`, or a body that broke off), and which pod served it (from a response header when the
gateway sets one; otherwise the criteria attribute by per-pod metric deltas, see `fanout`).

Each prompt starts with a random nonce, so prefix-cache-aware routing (the endpoint picker prefers
the pod that already holds a prompt's prefix) cannot pin all traffic to one pod.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

SERVED_BY_HEADERS = ("x-served-by", "x-backend-pod", "x-gateway-destination-endpoint")
"""Response headers that name the pod (or pod address) that served a response, first match wins."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where to send load: the OpenAI base URL (without `/v1`) and what every request carries."""

    base_url: str
    model: str
    """The `model` value (served name)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Authorization and routing headers (e.g. `X-Gateway-Model-Name`)."""
    client_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Extra `httpx.AsyncClient` arguments (TLS settings when the URL is the API server's proxy)."""


@dataclass(frozen=True, kw_only=True)
class LoadSpec:
    requests: int = 200
    """Most requests to send (>= 1)."""
    duration_s: float = 60.0
    """Most wall time, seconds, to keep starting requests (in-flight ones may finish after it)."""
    concurrency: int = 8
    """Requests in flight at once (closed loop: a worker sends its next request when one returns)."""
    stream: bool = True
    """True: SSE streaming, where a response can be cut off mid-way and that is detected."""
    max_tokens: int = 32
    prompt_words: int = 24
    timeout_s: float = 120.0
    """Per request, seconds, including the whole stream."""

    def problems(self) -> list[str]:
        out = []
        if self.requests < 1:
            out.append(f"requests must be >= 1, got {self.requests}")
        if self.duration_s <= 0:
            out.append(f"duration_s must be > 0, got {self.duration_s}")
        if self.concurrency < 1:
            out.append(f"concurrency must be >= 1, got {self.concurrency}")
        if self.max_tokens < 1:
            out.append(f"max_tokens must be >= 1, got {self.max_tokens}")
        return out


@dataclass(frozen=True, kw_only=True)
class ResponseRecord:
    index: int
    started_s: float
    """Seconds since the run started."""
    latency_s: float
    ttft_s: float | None
    """Time to the first streamed chunk (None: not streamed, or nothing arrived)."""
    status: int | None
    """HTTP status; None when no response arrived (connection refused, reset, timeout)."""
    bytes: int
    complete: bool
    """The whole answer arrived: a finish reason, and `[DONE]` when streamed."""
    cut_off: bool
    """A 200 response that started and broke off before completing."""
    served_by: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.complete

    @property
    def ended_s(self) -> float:
        return self.started_s + self.latency_s

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "startedS": round(self.started_s, 4), "latencyS": round(self.latency_s, 4),
                "ttftS": None if self.ttft_s is None else round(self.ttft_s, 4), "status": self.status,
                "bytes": self.bytes, "complete": self.complete, "cutOff": self.cut_off, "servedBy": self.served_by,
                "error": self.error}


@dataclass(frozen=True, kw_only=True)
class LoadResult:
    spec: LoadSpec
    records: tuple[ResponseRecord, ...]
    started_at: float
    """Wall clock (epoch seconds) at start."""
    duration_s: float

    @property
    def sent(self) -> int:
        return len(self.records)

    @property
    def succeeded(self) -> int:
        return sum(r.ok for r in self.records)

    @property
    def failed(self) -> list[ResponseRecord]:
        """Every response that did not complete, cut-offs included."""
        return [r for r in self.records if not r.ok]

    @property
    def cut_off(self) -> list[ResponseRecord]:
        return [r for r in self.records if r.cut_off]

    def served_counts(self) -> Counter[str]:
        """Successful responses per pod, for records that name their pod."""
        return Counter(r.served_by for r in self.records if r.ok and r.served_by)

    def summary(self) -> dict[str, Any]:
        lat = sorted(r.latency_s for r in self.records if r.ok)
        statuses = Counter(str(r.status) for r in self.records)
        return {
            "sent": self.sent,
            "succeeded": self.succeeded,
            "failed": len(self.failed),
            "cutOff": len(self.cut_off),
            "statuses": dict(sorted(statuses.items())),
            "durationS": round(self.duration_s, 3),
            "requestsPerS": round(self.sent / self.duration_s, 3) if self.duration_s > 0 else None,
            "latencyS": _percentiles(lat),
            "errors": sorted({r.error for r in self.records if r.error})[:10],
        }


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    if len(values) == 1:
        return {"p50": round(values[0], 4), "p95": round(values[0], 4), "max": round(values[0], 4)}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(q[49], 4), "p95": round(q[94], 4), "max": round(values[-1], 4)}


def chat_body(target: Target, spec: LoadSpec, index: int) -> dict[str, Any]:
    nonce = secrets.token_hex(6)
    words = " ".join(f"w{(index * 7 + i) % 97}" for i in range(spec.prompt_words))
    body: dict[str, Any] = {
        "model": target.model,
        "messages": [{"role": "user", "content": f"[{nonce}] Repeat these words: {words}"}],
        "max_tokens": spec.max_tokens,
        "temperature": 0,
        "stream": spec.stream,
    }
    return body


def _served_by(headers: httpx.Headers) -> str | None:
    for name in SERVED_BY_HEADERS:
        if headers.get(name):
            return headers[name]
    return None


async def _one(client: httpx.AsyncClient, target: Target, spec: LoadSpec, index: int, t0: float) -> ResponseRecord:
    started = time.monotonic()
    status: int | None = None
    served_by: str | None = None
    size = 0
    ttft: float | None = None
    finished = done = False
    error: str | None = None
    try:
        async with client.stream("POST", "/v1/chat/completions", json=chat_body(target, spec, index),
                                 timeout=spec.timeout_s) as resp:
            status, served_by = resp.status_code, _served_by(resp.headers)
            if spec.stream and status == 200:
                buffer = b""
                async for chunk in resp.aiter_bytes():
                    if ttft is None and chunk:
                        ttft = time.monotonic() - started
                    size += len(chunk)
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        f, d = _sse_line(line)
                        finished, done = finished or f, done or d
                if buffer:
                    f, d = _sse_line(buffer)
                    finished, done = finished or f, done or d
            else:
                raw = await resp.aread()
                size = len(raw)
                if status == 200:
                    finished = done = _json_finished(raw)
                else:
                    error = f"HTTP {status}: {raw[:120].decode(errors='replace')}"
    except (httpx.HTTPError, OSError) as exc:  # reset, refused, timeout, truncated body
        error = f"{type(exc).__name__}: {exc}"[:200]
    latency = time.monotonic() - started
    complete = status == 200 and finished and (done or not spec.stream)
    cut_off = status == 200 and not complete
    if cut_off and error is None:
        error = "response ended before it completed"
    return ResponseRecord(index=index, started_s=started - t0, latency_s=latency, ttft_s=ttft, status=status,
                          bytes=size, complete=complete, cut_off=cut_off, served_by=served_by, error=error)


def _sse_line(line: bytes) -> tuple[bool, bool]:
    """(saw a finish reason, saw `[DONE]`) for one SSE line."""
    line = line.strip()
    if not line.startswith(b"data:"):
        return False, False
    payload = line[5:].strip()
    if payload == b"[DONE]":
        return False, True
    try:
        event = json.loads(payload)
    except json.JSONDecodeError:
        return False, False
    return any(c.get("finish_reason") for c in event.get("choices") or []), False


def _json_finished(raw: bytes) -> bool:
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        return False
    return any(c.get("finish_reason") for c in body.get("choices") or [])


async def run_load(target: Target, spec: LoadSpec, *, stop: asyncio.Event | None = None) -> LoadResult:
    """Send load as `spec` bounds it; return every response's record (sorted by send order)."""
    problems = spec.problems()
    if problems:
        raise ValueError("invalid load spec: " + "; ".join(problems))
    stop = stop or asyncio.Event()
    records: list[ResponseRecord] = []
    next_index = 0
    wall0, t0 = time.time(), time.monotonic()
    deadline = t0 + spec.duration_s
    headers = {"Content-Type": "application/json", **target.headers}
    limits = httpx.Limits(max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency)

    async with httpx.AsyncClient(base_url=target.base_url.rstrip("/"), limits=limits,
                                 **{**target.client_kwargs, "headers": {**target.client_kwargs.get("headers", {}),
                                                                        **headers}}) as client:

        async def worker() -> None:
            nonlocal next_index
            while not stop.is_set() and next_index < spec.requests and time.monotonic() < deadline:
                index = next_index
                next_index += 1
                records.append(await _one(client, target, spec, index, t0))

        await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    return LoadResult(spec=spec, records=tuple(sorted(records, key=lambda r: r.index)), started_at=wall0,
                      duration_s=time.monotonic() - t0)
