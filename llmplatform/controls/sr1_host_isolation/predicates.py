"""Host isolation on rendered objects: recognise the rule (CrossGuard's `sr1-identity-rule` requires it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmplatform.controls.sr1_host_isolation.render import HOST_FIELDS


def is_host_isolation_rule(obj: Mapping[str, Any]) -> bool:
    """A rendered VAP that reads the host fields this module denies (recognised by content, not name)."""
    text = str(obj.get("spec", {}))
    return all(f in text for f in HOST_FIELDS) and "privileged" in text and "hostPort" in text
