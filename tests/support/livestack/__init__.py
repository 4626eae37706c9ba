"""Live test stack: the real LiteLLM proxy on loopback with real PostgreSQL and Redis.

Pieces (each usable alone):

* `postgres.PostgresServer`: throwaway cluster (initdb/pg_ctl) with stop()/start()/kill().
* `redis.RedisServer`: throwaway redis-server, no persistence, stop()/start()/kill().
* `fake_backend.FakeOpenAIBackend`: OpenAI-compatible model server that records requests.
* `proxy.LiteLLMProxy`: the real `litellm` proxy from `<repo>/.venv-litellm` for a config dict.
* `litellm_env` / `prisma_wasm`: install the pinned LiteLLM venv, the npm Prisma packages and the
  generated Prisma client; the WASM query engine stands in for Prisma's undownloadable binary.

`python -m tests.support.livestack prepare` installs everything (`make live-deps`).
See README.md beside this file.
"""

from __future__ import annotations

from . import postgres, prisma_wasm, redis


def missing_prerequisites() -> list[str]:
    """Reasons the live stack cannot run on this machine (empty when it can).

    Only system prerequisites are checked here (PostgreSQL, Redis, Node/npm); the LiteLLM venv,
    npm packages and Prisma client are installed on demand by `proxy.prepare()`.
    """
    reasons = [postgres.missing_reason(), redis.missing_reason()]
    if prisma_wasm.find_native_query_engine() is None:
        reasons.append(prisma_wasm.missing_reason())
    return [r for r in reasons if r]


__all__ = ["missing_prerequisites"]
