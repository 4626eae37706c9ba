"""Run the real `__main__.py` of the project under recording mocks: no CLI, plugins or credentials."""

from __future__ import annotations

import os
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from llmplatform.config.errors import ConfigError
from llmplatform.config.pulumi_source import SECRET_KEYS
from llmplatform.config.stack_file import read_stack_config, stacks_in
from llmp.plan.gcpause import full_collections_paused
from llmp.plan.mocks import PlanMocks, RecordingMonitor, Registration, UnansweredInvoke, mock_secret_value


class PlanError(RuntimeError):
    """The program could not be planned offline; the message says why and what to do."""


@dataclass(frozen=True)
class PlanRun:
    project: str
    stack: str
    registrations: tuple[Registration, ...]
    """Sorted by URN: the plan is deterministic."""
    outputs: dict[str, Any]
    """Stack outputs (`pulumi.export`), resolved."""


def project_name(project_dir: Path) -> str:
    return yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]


def stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """`Pulumi.<stack>.yaml` as the CLI would hand it to the program: structured values as JSON.

    Raises ConfigError (StackFileError, with line and column) for a file that is not a readable stack file.
    """
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise PlanError(f"no stack config {path.name}; stacks here: {', '.join(stacks_in(project_dir))}")
    import json

    out: dict[str, str] = {}
    for key, value in read_stack_config(path).items():
        if isinstance(value, dict) and "secure" in value:
            raise PlanError(f"{path.name}: {key} is an encrypted secret; the offline plan substitutes mock "
                            "secrets for the keys it knows and cannot decrypt others")
        # default=str: YAML-only values (`!!binary`, `!!set`) reach validation as text, which refuses them.
        out[key] = value if isinstance(value, str) else json.dumps(value, default=str)
    return out


def run_program(project_dir: Path, stack: str, *, config_override: dict[str, Any] | None = None) -> PlanRun:
    """Execute `<project_dir>/__main__.py` for `stack` under mocks and return every registration.

    `config_override` replaces whole config keys (without the project prefix); tests use it to plan
    variants without writing stack files. Secret config keys get deterministic mock values.
    """
    project_dir = project_dir.resolve()
    project = project_name(project_dir)
    config = stack_config(project_dir, stack)
    import json

    for key, value in (config_override or {}).items():
        config[f"{project}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    secret_keys = []
    for key in SECRET_KEYS:
        full = f"{project}:{key}"
        config.setdefault(full, mock_secret_value("config", key))
        secret_keys.append(full)

    mocks = PlanMocks()
    monitor = RecordingMonitor(mocks)
    # set_mocks makes a root Stack only when none is set: drop the one an earlier plan in this process left,
    # or this stack's URNs would carry that stack's name.
    pulumi.runtime.settings.ROOT.set(None)
    pulumi_mocks.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    runtime_config.set_all_config(config, secret_keys)

    sys_path_added = str(project_dir) not in sys.path
    if sys_path_added:
        sys.path.insert(0, str(project_dir))
    cwd = os.getcwd()
    os.chdir(project_dir)
    try:
        # Full collections would rescan the growing resource graph again and again (gcpause.py).
        with full_collections_paused():
            _sync_await(run_pulumi_func(lambda: runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")))
    except ConfigError:
        raise
    except UnansweredInvoke as exc:
        raise PlanError(str(exc)) from None
    except Exception as exc:  # surface the first unanswered invoke even if the SDK wrapped it
        if mocks.unanswered:
            raise PlanError("the program called provider functions the offline plan cannot answer:\n  - "
                            + "\n  - ".join(mocks.unanswered)) from exc
        raise
    finally:
        os.chdir(cwd)
        if sys_path_added:
            sys.path.remove(str(project_dir))
    if mocks.unanswered:
        raise PlanError("the program called provider functions the offline plan cannot answer:\n  - "
                        + "\n  - ".join(mocks.unanswered))

    stack_outputs = _stack_outputs()
    regs = tuple(sorted(monitor.registrations.values(), key=lambda r: r.urn))
    return PlanRun(project=project, stack=stack, registrations=regs, outputs=stack_outputs)


def _stack_outputs() -> dict[str, Any]:
    root = pulumi.runtime.settings.get_root_resource()
    outputs = getattr(root, "outputs", None) or {}
    resolved: dict[str, Any] = {}
    for key, value in outputs.items():
        fut = pulumi.Output.from_input(value)
        is_secret = _sync_await(fut.is_secret())
        resolved[key] = "[secret]" if is_secret else _sync_await(fut.future())
    return resolved
