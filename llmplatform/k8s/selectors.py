"""Kubernetes label selectors (`metav1.LabelSelector`), evaluated as the API server does.

An empty selector (`{}`) selects everything; a missing one is the caller's decision (webhooks treat a
missing namespaceSelector or objectSelector as `{}`). Operators: In, NotIn, Exists, DoesNotExist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def mismatches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    """Why `selector` does not select an object with `labels` (empty: it does)."""
    out = [f"matchLabels {k}={v!r} but the labels have {k}={labels.get(k)!r}"
           for k, v in (selector.get("matchLabels") or {}).items() if labels.get(k) != v]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present, value = key in labels, labels.get(key)
        ok = {"In": present and value in values, "NotIn": not present or value not in values,
              "Exists": present, "DoesNotExist": not present}.get(op, False)
        if not ok:
            out.append(f"matchExpressions {key} {op} {values} is not met ({key}={value!r})")
    return out


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """True when `selector` (None or `{}`: everything) selects `labels`."""
    return not selector or not mismatches(selector, labels)
