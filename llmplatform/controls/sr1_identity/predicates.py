"""SR1 identity on rendered objects: recognise the rule by what its CEL reads (CrossGuard `sr1-identity-rule`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmplatform import labels
from llmplatform.predicates.admission import cel_text


def is_identity_rule(obj: Mapping[str, Any]) -> bool:
    """An admission rule that ties LiteLLM's role label to a ServiceAccount: its CEL reads both."""
    text = cel_text(obj)
    return labels.ROLE in text and labels.ROLE_TENANT_GATEWAY in text and "serviceAccountName" in text
