"""Run the real LiteLLM proxy (from `.venv-litellm`) on loopback against live Postgres and Redis.

`LiteLLMProxy(config, postgres=..., redis=...)` writes `config` (the dict the platform renders)
to `config.yaml` in a fresh working folder, drops any `extra_files` beside it (custom hook
modules referenced from the config resolve relative to it), applies LiteLLM's migrations to the
database with psql, and starts `litellm --config config.yaml --port P --host 127.0.0.1` in its
own process group with its output in `proxy.log`. `start()` returns once `/health/readiness`
answers with the database connected, or raises `ProxyStartError` carrying the log tail.
`stop()` terminates the whole process group (the proxy and its Prisma engine).

The `prisma` command on the proxy's PATH is a stand-in that fails at once (`PRISMA_CLI_STANDIN`).
LiteLLM runs the Prisma CLI only while starting (`prisma` to see that it exists, then
`prisma migrate diff` because `DISABLE_SCHEMA_UPDATE` is set), and here the real CLI always fails
that diff: it has no schema engine (migrations are applied with psql). The real CLI took 8-15 s
of every start on an idle 2-core machine and over 60 s under load, for the same failure.

Several proxies may share one Postgres database and one Redis (replicas).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from . import litellm_env, migrations, prisma_wasm
from ._proc import LOOPBACK, free_port, kill_group, tail
from .postgres import PostgresServer
from .redis import RedisServer

READY_TIMEOUT_S = 180.0
PRISMA_CLI_STANDIN = """#!/bin/sh
# llmplatform livestack: stands in for the Prisma CLI in the proxy's PATH. LiteLLM calls it only at
# start (`prisma`, then `prisma migrate diff`); the real CLI fails that diff here too, having no
# schema engine. Migrations were applied with psql.
[ "$#" -eq 0 ] && exit 0
echo "Error: Prisma CLI stand-in (livestack): no schema engine; migrations are applied with psql" >&2
exit 1
"""
_MIGRATION_LOCK = threading.Lock()
_MIGRATED: set[tuple[str, int, str]] = set()

# Variables never passed from the caller's environment to the proxy: credentials and proxies
# that could send traffic off the machine, and LiteLLM settings that would change behaviour.
_DROP_PREFIXES = ("LITELLM_", "OPENAI_", "ANTHROPIC_", "AZURE_", "AWS_", "REDIS_", "DATABASE_", "PRISMA_",
                  "PG", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class ProxyStartError(RuntimeError):
    """The proxy exited or did not become ready; the message ends with its log tail."""


def prepare(*, quiet: bool = True) -> litellm_env.LiteLLMEnv:
    """Install everything the proxy needs (idempotent): LiteLLM venv, npm packages, Prisma client."""
    env = litellm_env.ensure_litellm_env(quiet=quiet)
    if prisma_wasm.uses_wasm_engine():
        prisma_wasm.ensure_node_modules()
    prisma_wasm.ensure_prisma_client(env)
    return env


def ensure_database(pg: PostgresServer, database: str, env: litellm_env.LiteLLMEnv) -> str:
    """Create `database` and apply LiteLLM's migrations once per (cluster, database); return its DSN."""
    key = (str(pg.base_dir), pg.port, database)
    with _MIGRATION_LOCK:
        dsn = pg.create_database(database)
        if key not in _MIGRATED:
            migrations.apply_migrations(pg, database, env.migrations_dir())
            _MIGRATED.add(key)
    return dsn


class LiteLLMProxy:
    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        postgres: PostgresServer | None,
        redis: RedisServer | None = None,
        database: str = "litellm",
        master_key: str | None = None,
        extra_files: Mapping[str, str | bytes | Path] | None = None,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
        name: str = "proxy",
    ) -> None:
        self.config = dict(config)
        self.postgres = postgres
        self.redis = redis
        self.database = database
        self.master_key = master_key or f"sk-master-{secrets.token_hex(12)}"
        self.extra_files = dict(extra_files or {})
        self.extra_env = dict(env or {})
        self.port = port or free_port()
        self.ready_timeout = ready_timeout
        self.name = name
        self.workdir = Path(tempfile.mkdtemp(prefix=f"llmp-litellm-{name}-"))
        self.log_path = self.workdir / "proxy.log"
        self.config_path = self.workdir / "config.yaml"
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen | None = None
        self._holder: list[subprocess.Popen] = []
        self._finalizer = weakref.finalize(self, _cleanup, self._holder, self.workdir)
        atexit.register(self._finalizer)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "LiteLLMProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> "LiteLLMProxy":
        if self.is_running():
            return self
        started = time.monotonic()
        venv = prepare()
        self._write_files()
        env = self._environment(venv)
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                [str(venv.litellm), "--config", str(self.config_path), "--port", str(self.port), "--host", LOOPBACK],
                cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._proc = proc
        self._holder[:] = [proc]
        try:
            self._wait_ready(proc)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self, term_timeout: float = 15.0) -> None:
        """Terminate the proxy and everything it spawned."""
        if self._proc is not None:
            kill_group(self._proc, term_timeout=term_timeout)
            self._proc = None
            self._holder.clear()

    def kill(self) -> None:
        """SIGKILL the proxy's process group at once (a crashed replica)."""
        self.stop(term_timeout=0)

    def close(self, term_timeout: float = 15.0) -> None:
        """Stop and delete the working folder (set LLMP_KEEP_PROXY_DIRS=1 to keep it for debugging).

        term_timeout: seconds the proxy gets to shut down after SIGTERM before the group is killed."""
        self.stop(term_timeout=term_timeout)
        if os.environ.get("LLMP_KEEP_PROXY_DIRS"):
            self._holder.clear()
            self._finalizer.detach()
        else:
            self._finalizer()
        atexit.unregister(self._finalizer)

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 80) -> str:
        return tail(self.log_path, lines)

    # ------------------------------------------------------------------ HTTP helpers
    def client(self, api_key: str | None = None, timeout: float = 60.0) -> httpx.Client:
        """An httpx client for this proxy, authenticated with `api_key` (default: the master key)."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {api_key or self.master_key}"},
            timeout=timeout,
            trust_env=False,  # loopback only: never through an HTTP proxy from the environment
        )

    def admin(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Any:
        """Call an admin endpoint with the master key; raise with the log tail on a non-2xx answer."""
        with self.client() as client:
            resp = client.request(method, path, json=json, **kwargs)
        if resp.status_code >= 300:
            raise RuntimeError(
                f"{method} {path} -> {resp.status_code}: {resp.text[:2000]}\nproxy log tail:\n{self.log_tail(40)}"
            )
        return resp.json() if resp.content else None

    def chat(self, api_key: str, model: str, content: str, **extra: Any) -> httpx.Response:
        """POST /chat/completions with `api_key`; returns the raw response (tests check status)."""
        body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
        with self.client(api_key) as client:
            return client.post("/chat/completions", json=body)

    # ------------------------------------------------------------------ internals
    def _write_files(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        standin = self.workdir / "bin" / "prisma"
        standin.parent.mkdir(exist_ok=True)
        standin.write_text(PRISMA_CLI_STANDIN)
        standin.chmod(0o755)
        for rel, content in self.extra_files.items():
            target = (self.workdir / rel).resolve()
            if self.workdir.resolve() not in target.parents:
                raise ValueError(f"extra file {rel!r} escapes the proxy folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copyfile(content, target)
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def _environment(self, venv: litellm_env.LiteLLMEnv) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES)}
        env["PATH"] = os.pathsep.join([str(self.workdir / "bin"), str(venv.bin_dir),
                                       os.environ.get("PATH", "/usr/bin:/bin")])
        env.update(
            {
                "LITELLM_MASTER_KEY": self.master_key,
                "DISABLE_SCHEMA_UPDATE": "true",  # migrations were applied with psql
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # never fetch the cost map from the internet
                "CHECKPOINT_DISABLE": "1",
                "PRISMA_HIDE_UPDATE_MESSAGE": "true",
                "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
                "NO_PROXY": "127.0.0.1,localhost,::1",
                "no_proxy": "127.0.0.1,localhost,::1",
                # Only `prisma migrate diff` runs at start (DISABLE_SCHEMA_UPDATE); it cannot work
                # without a schema engine, so bound it tightly.
                "LITELLM_PRISMA_COMMAND_TIMEOUT": "30",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(prisma_wasm.engine_env())
        if self.postgres is not None:
            env["DATABASE_URL"] = ensure_database(self.postgres, self.database, venv)
        if self.redis is not None:
            env.update(self.redis.env())
        env.update(self.extra_env)
        return env

    def _wait_ready(self, proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer yet"
        with httpx.Client(base_url=self.url, timeout=5.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise ProxyStartError(
                        f"LiteLLM proxy exited with {proc.returncode} before becoming ready "
                        f"(config {self.config_path}).\nproxy log tail:\n{self.log_tail()}"
                    )
                try:
                    resp = client.get("/health/readiness")
                    if resp.status_code == 200:
                        body = resp.json()
                        if self.postgres is None or body.get("db") == "connected":
                            return
                        last = f"readiness: {body}"
                    else:
                        last = f"readiness HTTP {resp.status_code}: {resp.text[:300]}"
                except (httpx.HTTPError, ValueError) as exc:
                    last = f"{type(exc).__name__}: {exc}"
                time.sleep(0.25)
        raise ProxyStartError(
            f"LiteLLM proxy not ready after {self.ready_timeout:.0f}s ({last}).\nproxy log tail:\n{self.log_tail()}"
        )

    def __repr__(self) -> str:
        return f"LiteLLMProxy(name={self.name!r}, url={self.url!r}, running={self.is_running()})"


def _cleanup(holder: list[subprocess.Popen], workdir: Path) -> None:
    for proc in list(holder):
        kill_group(proc, term_timeout=10)
    holder.clear()
    shutil.rmtree(workdir, ignore_errors=True)
