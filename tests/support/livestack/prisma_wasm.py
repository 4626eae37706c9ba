"""Prisma for the live LiteLLM proxy without Prisma's downloadable native engines.

LiteLLM talks to PostgreSQL through prisma-client-py 0.11, which needs (1) a Python client
generated from LiteLLM's `schema.prisma` by the Node Prisma CLI and (2) a query-engine process.
Both normally come with native binaries downloaded from Prisma's servers at run time, which
fails on a machine that reaches only package registries. This module provides them from npm:

* `prisma_wasm/package.json` pins the Prisma CLI (5.4.2, the version prisma-client-py 0.11
  drives), `@prisma/client` 5.17.0 (its WASM query engine), `@prisma/adapter-pg` and `pg`.
  `ensure_node_modules()` runs `npm ci --ignore-scripts` from the committed lock file (the
  packages' install scripts would try to download engines).
* `prisma_wasm/query-engine` runs `engine.mjs`, which serves the native query engine's HTTP
  protocol on top of the WASM engine. `PRISMA_QUERY_ENGINE_BINARY` points at it.
* `prisma_wasm/schema-engine` fails fast: nothing here may use a schema engine (migrations are
  applied with psql), but the CLI wants one to exist.
* `ensure_prisma_client(env)` runs `prisma generate` once per LiteLLM venv (a marker records the
  schema hash).

Where a native query engine is already present (a machine that could download it), `engine_env()`
uses it instead, unless `LLMP_PRISMA_ENGINE=wasm` forces the WASM engine.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .litellm_env import LiteLLMEnv

PRISMA_WASM_DIR = Path(__file__).resolve().parent / "prisma_wasm"
QUERY_ENGINE_WRAPPER = PRISMA_WASM_DIR / "query-engine"
SCHEMA_ENGINE_WRAPPER = PRISMA_WASM_DIR / "schema-engine"
PRISMA_CLI_VERSION = "5.4.2"
PRISMA_ENGINE_HASH = "ac9d7041ed77bcc8a8dbd2ab6616b39013829574"  # what prisma-client-py 0.11 expects
GENERATED_MARKER = ".llmp-prisma-generated.json"


class PrismaSetupError(RuntimeError):
    """npm install or `prisma generate` failed."""


def node_binary() -> str | None:
    return os.environ.get("LLMP_NODE") or shutil.which("node")


def missing_reason() -> str | None:
    """None when Node and npm are available, else why the WASM engine cannot be prepared."""
    if node_binary() is None:
        return "Node.js not found (needed for the Prisma WASM query engine); install nodejs/npm or set LLMP_NODE"
    if shutil.which("npm") is None and not (PRISMA_WASM_DIR / "node_modules").is_dir():
        return "npm not found (needed once to install prisma_wasm/node_modules); install npm"
    return None


def _lock_digest() -> str:
    data = (PRISMA_WASM_DIR / "package.json").read_bytes() + (PRISMA_WASM_DIR / "package-lock.json").read_bytes()
    return hashlib.sha256(data).hexdigest()


def ensure_node_modules(timeout: float = 600) -> Path:
    """`npm ci --ignore-scripts` in prisma_wasm/ unless node_modules matches the lock file."""
    modules = PRISMA_WASM_DIR / "node_modules"
    stamp = modules / ".llmp-lock-digest"
    digest = _lock_digest()
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise PrismaSetupError(missing_reason() or "npm not found")
    # The lock lives outside the checkout (npm ci replaces node_modules, so not in there either).
    lock_name = f"llmp-npm-{hashlib.sha256(str(PRISMA_WASM_DIR).encode()).hexdigest()[:12]}.lock"
    with open(Path(tempfile.gettempdir()) / lock_name, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return modules
        proc = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PRISMA_WASM_DIR, capture_output=True, text=True, timeout=timeout, check=False,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise PrismaSetupError(f"npm ci in {PRISMA_WASM_DIR} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        stamp.write_text(digest + "\n")
    return modules


def find_native_query_engine() -> Path | None:
    """A native Prisma query engine that prisma-client-py could use, if one was ever downloaded."""
    if os.environ.get("LLMP_PRISMA_ENGINE", "auto").lower() == "wasm":
        return None
    explicit = os.environ.get("LLMP_NATIVE_QUERY_ENGINE")
    candidates = [Path(explicit)] if explicit else []
    cache = Path.home() / ".cache" / "prisma-python" / "binaries" / PRISMA_CLI_VERSION / PRISMA_ENGINE_HASH
    candidates += sorted(cache.glob("prisma-query-engine-*")) + sorted(cache.glob("node_modules/@prisma/engines/query-engine-*"))
    for path in candidates:
        if not (path.is_file() and os.access(path, os.X_OK)):
            continue
        try:
            proc = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0 and proc.stdout.startswith("query-engine"):
            return path
    return None


def engine_env() -> dict[str, str]:
    """Environment that makes prisma-client-py (and the Prisma CLI) use an engine that works here."""
    native = find_native_query_engine()
    if native is not None:
        return {"PRISMA_QUERY_ENGINE_BINARY": str(native)}
    env = {
        "PRISMA_QUERY_ENGINE_BINARY": str(QUERY_ENGINE_WRAPPER),
        "PRISMA_SCHEMA_ENGINE_BINARY": str(SCHEMA_ENGINE_WRAPPER),
        # The CLI must not try to install itself: it is in prisma_wasm/node_modules.
        "PRISMA_BINARY_CACHE_DIR": str(PRISMA_WASM_DIR),
    }
    node = os.environ.get("LLMP_NODE")
    if node:
        env["LLMP_NODE"] = node
    return env


def uses_wasm_engine() -> bool:
    return find_native_query_engine() is None


def ensure_prisma_client(env: LiteLLMEnv, timeout: float = 600) -> None:
    """Generate prisma-client-py's client from LiteLLM's schema into the LiteLLM venv (once)."""
    schema = env.schema_file()
    digest = hashlib.sha256(schema.read_bytes()).hexdigest()
    marker = env.root / GENERATED_MARKER
    try:
        if json.loads(marker.read_text()).get("schema_sha256") == digest:
            return
    except (OSError, ValueError):
        pass
    ensure_node_modules()
    run_env = dict(os.environ)
    run_env.update(
        {
            "PATH": f"{env.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "PRISMA_HIDE_UPDATE_MESSAGE": "true",
            "CHECKPOINT_DISABLE": "1",
            # prisma-client-py's CLI wrapper: use our node_modules as its CLI cache, never nodeenv.
            "PRISMA_BINARY_CACHE_DIR": str(PRISMA_WASM_DIR),
            "PRISMA_QUERY_ENGINE_BINARY": str(QUERY_ENGINE_WRAPPER),
            "PRISMA_SCHEMA_ENGINE_BINARY": str(SCHEMA_ENGINE_WRAPPER),
        }
    )
    native = find_native_query_engine()
    if native is not None:
        run_env["PRISMA_QUERY_ENGINE_BINARY"] = str(native)
    with open(env.root / ".llmp-prisma-generate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if json.loads(marker.read_text()).get("schema_sha256") == digest:
                return
        except (OSError, ValueError):
            pass
        proc = subprocess.run(
            [str(env.bin_dir / "prisma"), "generate", "--schema", str(schema)],
            env=run_env, capture_output=True, text=True, timeout=timeout, check=False,
            stdin=subprocess.DEVNULL, cwd=env.root,
        )
        if proc.returncode != 0 or "Generated Prisma Client Python" not in proc.stdout:
            raise PrismaSetupError(
                f"prisma generate failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        marker.write_text(json.dumps({"schema_sha256": digest, "schema": str(schema)}) + "\n")
