"""Shared helpers for the gateway tests: the real stack configs, loaded the way the program loads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from llmplatform.config.model import PlatformConfig, load_platform_config

REPO = Path(__file__).resolve().parents[2]


def raw_stack(stack: str) -> dict[str, Any]:
    doc = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items()}


def stack_config(stack: str, **overrides: Any) -> PlatformConfig:
    """`Pulumi.<stack>.yaml` as a PlatformConfig, with whole top-level keys replaced by `overrides`."""
    return load_platform_config({**raw_stack(stack), **overrides}, source=f"{stack} (test)")


def served(cfg: PlatformConfig) -> dict[str, str]:
    return {m.name: m.served_name for m in cfg.models}


@pytest.fixture(params=["dev", "prod"])
def stack(request) -> str:
    return request.param
