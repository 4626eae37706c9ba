"""The isolated virtualenv that holds the real LiteLLM proxy (`<repo>/.venv-litellm`).

LiteLLM's proxy extras pull in a dependency set that clashes with the Pulumi stack in the main
`.venv`, so the live tests run the proxy from a venv of its own. `ensure_litellm_env()` is
idempotent: a marker file records what was installed, and a second call with the same pins returns
at once. A file lock keeps two concurrent callers (pytest-xdist workers, `make live-deps` beside a
test run) from installing into the same directory at the same time.

Run `python -m tests.support.livestack.litellm_env` to prepare it by hand (the Makefile's
`live-deps` target does).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from llmplatform.gateway import images

REPO_ROOT = Path(__file__).resolve().parents[3]

LITELLM_VERSION = images.LITELLM_VERSION
"""The live tests run the release the platform deploys (the image's version), so what they show
holds for the pods."""
PRISMA_PY_VERSION = "0.11.0"
# prisma 0.11.0 is what LiteLLM pins; later releases break LiteLLM's reconnect logic.
PROMETHEUS_CLIENT_VERSION = "0.21.1"
# The proxy image's runtime extra (`proxy-runtime`, prometheus-client>=0.20,<1.0) brings the client LiteLLM's
# `prometheus` callback imports; `litellm[proxy]` does not. Installed alone, not the extra's cloud SDKs.
PINS: tuple[str, ...] = (f"litellm[proxy]=={LITELLM_VERSION}", f"prisma=={PRISMA_PY_VERSION}",
                         f"prometheus-client=={PROMETHEUS_CLIENT_VERSION}")

MARKER_NAME = ".llmp-livestack-installed.json"
INSTALL_TIMEOUT_S = 1500.0


class LiteLLMEnvError(RuntimeError):
    """The LiteLLM venv could not be prepared."""


@dataclass(frozen=True)
class LiteLLMEnv:
    """Paths inside a prepared LiteLLM venv."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def litellm(self) -> Path:
        return self.root / "bin" / "litellm"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    def site_packages(self) -> Path:
        found = sorted((self.root / "lib").glob("python3*/site-packages"))
        if not found:
            raise LiteLLMEnvError(f"no site-packages under {self.root / 'lib'}")
        return found[0]

    def migrations_dir(self) -> Path:
        """The Prisma migration folders shipped by `litellm-proxy-extras`."""
        path = self.site_packages() / "litellm_proxy_extras" / "migrations"
        if not path.is_dir():
            raise LiteLLMEnvError(f"litellm-proxy-extras migrations not found at {path}")
        return path

    def schema_file(self) -> Path:
        """LiteLLM's `schema.prisma` (the one its proxy generates the Python client from)."""
        path = self.site_packages() / "litellm" / "proxy" / "schema.prisma"
        if not path.is_file():
            raise LiteLLMEnvError(f"LiteLLM schema.prisma not found at {path}")
        return path


def default_venv_dir() -> Path:
    """`LLMP_LITELLM_VENV` if set, else `<repo>/.venv-litellm`."""
    env = os.environ.get("LLMP_LITELLM_VENV")
    return Path(env).resolve() if env else REPO_ROOT / ".venv-litellm"


def _wanted_marker() -> dict[str, object]:
    return {"pins": list(PINS), "python": f"{sys.version_info.major}.{sys.version_info.minor}"}


def is_ready(venv: Path | None = None) -> bool:
    """True when the venv exists with the current pins (no install needed)."""
    root = venv or default_venv_dir()
    marker = root / MARKER_NAME
    if not marker.is_file() or not (root / "bin" / "litellm").exists():
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("pins") == list(PINS)


def _run(cmd: list[str], log, timeout: float) -> None:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    proc = subprocess.run(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise LiteLLMEnvError(f"command failed ({proc.returncode}): {' '.join(cmd)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_litellm_env(venv: Path | None = None, *, quiet: bool = True) -> LiteLLMEnv:
    """Create/refresh the LiteLLM venv if needed and return its paths.

    Raises `LiteLLMEnvError` (with the pip log tail) when the install fails.
    """
    root = (venv or default_venv_dir()).resolve()
    if is_ready(root):
        return LiteLLMEnv(root)
    # Lock and log live inside the venv folder, so they are covered by the `.venv-*/` ignore rule.
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".llmp-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(root):  # another process finished while we waited
            return LiteLLMEnv(root)
        log_path = root / ".llmp-install.log"
        started = time.monotonic()
        with open(log_path, "w") as log:
            try:
                if not (root / "bin" / "python").exists():
                    _run([sys.executable, "-m", "venv", str(root)], log, 120)
                py = str(root / "bin" / "python")
                _run([py, "-m", "pip", "install", "--upgrade", "pip"], log, 300)
                _run([py, "-m", "pip", "install", *PINS], log, INSTALL_TIMEOUT_S)
            except subprocess.TimeoutExpired as exc:
                raise LiteLLMEnvError(
                    f"installing {PINS} timed out after {exc.timeout}s; log {log_path}:\n{_tail(log_path)}"
                ) from exc
            except LiteLLMEnvError as exc:
                raise LiteLLMEnvError(f"{exc}; log {log_path}:\n{_tail(log_path)}") from exc
        elapsed = time.monotonic() - started
        marker = dict(_wanted_marker(), install_seconds=round(elapsed, 1))
        (root / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n")
        if not quiet:
            print(f"installed {', '.join(PINS)} into {root} in {elapsed:.1f}s", file=sys.stderr)
    return LiteLLMEnv(root)


def main() -> int:
    started = time.monotonic()
    env = ensure_litellm_env(quiet=False)
    print(f"LiteLLM venv ready at {env.root} ({time.monotonic() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
