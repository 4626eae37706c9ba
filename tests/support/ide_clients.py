"""The IDE clients `llmp ide-config` writes for, run offline from npm, so tests load its output as the clients do.

`ide_clients/package.json` (+ the committed lock file) pins, installed with `npm ci --ignore-scripts` into an
untracked `ide_clients/node_modules`:

* `@continuedev/config-yaml` 1.42.0: Continue's config.yaml parser and zod schema (`parseConfigYaml`,
  `validateConfigYaml`), run by `validate-continue.mjs`;
* `@continuedev/cli` 1.5.47 (`cn`): Continue's own agent, run headless (`cn --config <file> -p <prompt>`) for a
  real chat completion with the file;
* `opencode-linux-x64` 1.18.33: the opencode binary (its npm wrapper `opencode-ai` picks this package on
  Linux x64). `opencode debug config` loads and validates the config with opencode's own schema (the zod
  schema the published https://opencode.ai/config.json is generated from); `opencode models <provider>` lists
  the models it resolved; `opencode run` sends a real request. Other platforms: opencode checks skip.

Every client runs with a throwaway HOME and XDG folders, so nothing of the user's own configuration is read.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

IDE_CLIENTS_DIR = Path(__file__).resolve().parent / "ide_clients"
MODULES = IDE_CLIENTS_DIR / "node_modules"
CN = MODULES / "@continuedev" / "cli" / "dist" / "cn.js"
OPENCODE = MODULES / "opencode-linux-x64" / "bin" / "opencode"


class IdeClientSetupError(RuntimeError):
    """npm ci failed."""


def missing_reason() -> str | None:
    """None when Node.js and npm are there, else what to install."""
    if shutil.which("node") is None:
        return "Node.js not found (runs Continue's config parser and CLI); install nodejs and npm"
    if shutil.which("npm") is None and not MODULES.is_dir():
        return "npm not found (installs tests/support/ide_clients/node_modules once); install npm"
    return None


def opencode_missing_reason() -> str | None:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"the pinned opencode binary is opencode-linux-x64; this is {platform.system()} {platform.machine()}"
    return missing_reason()


def ensure_node_modules(timeout: float = 600) -> Path:
    """`npm ci --ignore-scripts` in ide_clients/ unless node_modules already matches the lock file."""
    digest = hashlib.sha256((IDE_CLIENTS_DIR / "package.json").read_bytes()
                            + (IDE_CLIENTS_DIR / "package-lock.json").read_bytes()).hexdigest()
    stamp = MODULES / ".llmp-lock-digest"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return MODULES
    lock_name = f"llmp-npm-{hashlib.sha256(str(IDE_CLIENTS_DIR).encode()).hexdigest()[:12]}.lock"
    with open(Path(tempfile.gettempdir()) / lock_name, "w") as lock:  # npm ci replaces node_modules: lock outside
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return MODULES
        npm = shutil.which("npm")
        if npm is None:
            raise IdeClientSetupError(missing_reason() or "npm not found")
        proc = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                              cwd=IDE_CLIENTS_DIR, capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise IdeClientSetupError(f"npm ci in {IDE_CLIENTS_DIR} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        stamp.write_text(digest + "\n")
    return MODULES


@dataclass(frozen=True)
class ContinueVerdict:
    errors: list[str]
    """Fatal: Continue refuses to load the file."""
    warnings: list[str]
    """Continue loads it and warns (e.g. an autocomplete model not trained for FIM)."""


def continue_validate(config: Path) -> ContinueVerdict:
    """Continue's parser, schema and checks on a config.yaml."""
    ensure_node_modules()
    proc = subprocess.run(["node", str(IDE_CLIENTS_DIR / "validate-continue.mjs"), str(config)],
                          capture_output=True, text=True, timeout=120, check=True, cwd=IDE_CLIENTS_DIR)
    out = json.loads(proc.stdout)
    return ContinueVerdict(out["errors"], out["warnings"])


def _isolated_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCODE", "CONTINUE", "LLMP_", "XDG_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_STATE_HOME=str(home / ".local/state"),
               NO_COLOR="1")
    # opencode offline and alone: no update check, models.dev fetch, plugin or LSP installs, other tools' files.
    env.update({f"OPENCODE_DISABLE_{what}": "1" for what in (
        "AUTOUPDATE", "MODELS_FETCH", "DEFAULT_PLUGINS", "LSP_DOWNLOAD", "SHARE", "CLAUDE_CODE", "EXTERNAL_SKILLS",
        "PROJECT_CONFIG")})
    env.update(extra)
    return env


def opencode(args: list[str], *, config: Path, home: Path, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The opencode binary with `config` as its only configuration (OPENCODE_CONFIG), from an empty folder.
    About 1-2 s a call on an idle machine (a 185 MB binary starting), several times that under load."""
    ensure_node_modules()
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(OPENCODE), *args], cwd=work, capture_output=True, text=True, timeout=timeout,
                          check=False, stdin=subprocess.DEVNULL,
                          env=_isolated_env(home, {"OPENCODE_CONFIG": str(config), **(env or {})}))


def continue_cli(prompt: str, *, config: Path, home: Path, env: dict[str, str] | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Continue's CLI, headless (`cn --config <config> -p <prompt>`), from an empty folder."""
    ensure_node_modules()
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["node", str(CN), "--config", str(config), "-p", prompt], cwd=work, capture_output=True,
                          text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL,
                          env=_isolated_env(home, env or {}))
