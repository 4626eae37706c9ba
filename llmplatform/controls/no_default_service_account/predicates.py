"""No platform workload as `default`, on rendered objects (CrossGuard `sr1-no-default-service-account`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llmplatform.controls.no_default_service_account.render import DEFAULT_SERVICE_ACCOUNT
from llmplatform.controls.sr1_identity.render import TEMPLATE_KINDS
from llmplatform.controls.sr1_network.render import MANAGED_NAMESPACES


def _at(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def default_service_account_problems(obj: Mapping[str, Any],
                                     namespaces: Iterable[str] = MANAGED_NAMESPACES) -> list[str]:
    """One problem per pod template of a Pod or workload in `namespaces` that runs as `default` (names no
    ServiceAccount, or names `default`). Empty for other kinds, other namespaces, or an unknown namespace."""
    namespace = _at(obj, ("metadata", "namespace"))
    if namespace not in set(namespaces):
        return []
    out = []
    for kind in TEMPLATE_KINDS:
        api_version = f"{kind.group}/{kind.version}" if kind.group else kind.version
        if obj.get("kind") != kind.kind or obj.get("apiVersion") != api_version:
            continue
        template = _at(obj, kind.template_path) if kind.template_path else obj
        if not isinstance(template, Mapping):
            continue
        named = _at(template, ("spec", "serviceAccountName"))
        if (named or DEFAULT_SERVICE_ACCOUNT) == DEFAULT_SERVICE_ACCOUNT:
            where = ".".join(kind.template_path) or "the pod"
            out.append(f"{kind.kind} {namespace}/{_at(obj, ('metadata', 'name'))} runs as the default ServiceAccount "
                       f"({where} names {'default' if named else 'none'}): give it its own ServiceAccount")
    return out
