"""Write tests/live/litellm_routes.json: every route the pinned LiteLLM proxy app serves.

Run with the LiteLLM venv's Python (it imports the proxy app, ~20 s):

    .venv-litellm/bin/python tests/live/enumerate_litellm_routes.py > tests/live/litellm_routes.json

The list is read from the app object itself (`litellm.proxy.proxy_server.app`, walking FastAPI's
included routers with their prefixes), not from the OpenAPI document, which omits routes declared
with `include_in_schema=False` and, until first used, the routers LiteLLM registers lazily on the
first request under their prefix (`litellm/proxy/_lazy_features.py`; all are loaded here and
tagged `lazyFeature`). Each route is tagged with the `LiteLLMRoutes` groups
(`litellm/proxy/_types.py`) that list its path, so a reader sees why LiteLLM would let a key of a
given type call it. tests/live/test_tenant_routes_live.py sends a tenant key to every entry and
fails when the running proxy's OpenAPI document names a path this file lacks (a LiteLLM bump
without re-running this script).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any


def _walk(routes: list[Any], prefix: str, out: list[dict[str, Any]]) -> None:
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI >= 0.16x: an included router kept unflattened
            context = route.include_context
            _walk(list(original.routes), prefix + (context.prefix or ""), out)
            continue
        path = getattr(route, "path", None)
        if path is None:
            continue
        kind = type(route).__name__
        if kind.endswith("WebSocketRoute"):
            kind_name = "websocket"
        elif kind in ("Mount", "Host"):
            kind_name = "mount"
            inner = getattr(getattr(route, "app", None), "routes", None) or getattr(route, "routes", None)
            if inner:  # a mounted Starlette/FastAPI app: its routes are served under the mount path
                _walk(list(inner), prefix + path, out)
        else:
            kind_name = "http"
        methods = sorted(m for m in (getattr(route, "methods", None) or ()) if m != "HEAD")
        out.append({"path": prefix + path, "kind": kind_name, "methods": methods,
                    "name": getattr(route, "name", None)})


def _groups(path: str) -> list[str]:
    from litellm.proxy._types import LiteLLMRoutes

    names = []
    for name, member in LiteLLMRoutes.__members__.items():
        value = member.value
        if isinstance(value, (list, tuple, frozenset, set)) and path in value:
            names.append(name)
    return sorted(names)


def main() -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm
    from litellm.proxy.proxy_server import app

    eager: list[dict[str, Any]] = []
    _walk(list(app.routes), "", eager)
    # LiteLLM registers some routers only on the first request under their prefix
    # (litellm/proxy/_lazy_features.py); a tenant can trigger every one, so load them all here.
    from litellm.proxy._lazy_features import LAZY_FEATURES

    lazy_names: dict[str, str] = {}
    for feature in LAZY_FEATURES:
        before: list[dict[str, Any]] = []
        _walk(list(app.routes), "", before)
        feature.register_fn(app, importlib.import_module(feature.module_path))
        after: list[dict[str, Any]] = []
        _walk(list(app.routes), "", after)
        seen = {(e["kind"], e["path"]) for e in before}
        for e in after:
            lazy_names.setdefault(f'{e["kind"]} {e["path"]}', feature.name) if (e["kind"], e["path"]) not in seen else None
    found: list[dict[str, Any]] = []
    _walk(list(app.routes), "", found)
    for e in found:
        e["lazyFeature"] = lazy_names.get(f'{e["kind"]} {e["path"]}')
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in found:
        key = (entry["kind"], entry["path"])
        if key in merged:
            merged[key]["methods"] = sorted(set(merged[key]["methods"]) | set(entry["methods"]))
        else:
            merged[key] = entry
    routes = [{**e, "groups": _groups(e["path"])} for _, e in sorted(merged.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    version = getattr(litellm, "version", None) or __import__("importlib.metadata").metadata.version("litellm")
    json.dump({"litellmVersion": str(version), "source": "litellm.proxy.proxy_server.app.routes",
               "routes": routes}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
