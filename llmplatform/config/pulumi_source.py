"""Read the stack's config from the Pulumi runtime (CLI or offline plan) into a PlatformConfig."""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from llmplatform.config.model import PlatformConfig, load_platform_config

SECRET_KEYS = ("hf_token", "vast_ssh_private_key")
"""Config keys that hold secrets (`pulumi config set --secret`); they stay Outputs, never enter PlatformConfig."""


def raw_project_config(project: str) -> dict[str, Any]:
    """Every `<project>:<key>` value the runtime holds, structured values decoded from JSON."""
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for full_key, value in merged.items():
        namespace, _, key = full_key.partition(":")
        if namespace != project or key in SECRET_KEYS:
            continue
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # a plain string that starts with a bracket: validation says what the key needs
        raw[key] = value
    return raw


def read_platform_config() -> PlatformConfig:
    """The one config read of the program (called from `__main__.py` only)."""
    project = pulumi.get_project()
    return load_platform_config(raw_project_config(project), source=f"stack {pulumi.get_stack()!r} config")


def read_secret(key: str) -> pulumi.Output[str] | None:
    """A secret config value as a secret Output, or None when unset."""
    assert key in SECRET_KEYS, f"{key} is not declared in SECRET_KEYS"
    return pulumi.Config().get_secret(key)
