"""Files mounted into the LiteLLM pod as-is. They import only the stdlib and `litellm`, so importing
them here (where LiteLLM is not installed) fails by design; read them with `hook_source()`."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def hook_source(module: str = "tenant_cache_salt") -> str:
    """The text of a hook file, exactly as it is mounted into the LiteLLM pod."""
    return (_HERE / f"{module}.py").read_text()


def hook_path(module: str = "tenant_cache_salt") -> Path:
    return _HERE / f"{module}.py"
