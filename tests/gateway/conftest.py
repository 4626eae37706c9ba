"""Shared helpers for the gateway tests: the real stack configs, loaded the way the program loads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmplatform.config.model import PlatformConfig
from llmplatform.config.stack_file import load_stack_file

REPO = Path(__file__).resolve().parents[2]


def stack_config(stack: str, **overrides: Any) -> PlatformConfig:
    """`Pulumi.<stack>.yaml` as a PlatformConfig, with whole top-level keys replaced by `overrides`."""
    return load_stack_file(REPO, stack, **overrides)


def served(cfg: PlatformConfig) -> dict[str, str]:
    return {m.name: m.served_name for m in cfg.models}


@pytest.fixture(params=["dev", "prod"])
def stack(request) -> str:
    return request.param
