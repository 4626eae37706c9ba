"""Live: a tenant key on every route the pinned LiteLLM serves, through the rendered prod config.

vLLM shares prefix-cache blocks between requests with equal `cache_salt`, so every request a
tenant key can make reach the model server must carry the platform's salt for that tenant. The
route list is tests/live/litellm_routes.json: every route LiteLLM 1.100.1's proxy app serves,
including the routers it registers lazily on first use, read from the app itself by
tests/live/enumerate_litellm_routes.py. Each (method, route) is sent once with a key made exactly
as the tenant reconciler makes it (`reconcile.TENANT_ROUTES` as `allowed_routes`), and:

- a route on the key's list answers, and whatever reaches the backend carries the tenant's salt;
- every other route is refused (401/403/404/405) or is one LiteLLM serves without any key, in
  which case the same request without a key gets the same answer (the key adds nothing);
- management routes (keys, teams, users, models, spend, /global/*, /config ...) are 401/403/404;
- nothing ever reaches the backend without the tenant's salt;
- the running proxy's OpenAPI document names no path the checked-in list lacks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from llmplatform.gateway import reconcile as rc
from llmplatform.gateway.litellm_config import SECRET_ENV
from tests.support.livestack.fake_backend import FakeOpenAIBackend
from tests.support.livestack.litellm_env import LITELLM_VERSION
from tests.support.livestack.platform import rendered_gateway
from tests.support.livestack.proxy import LiteLLMProxy

pytestmark = pytest.mark.live

ROUTES_FILE = Path(__file__).with_name("litellm_routes.json")
REFUSED = frozenset({401, 403, 404, 405})
MANAGEMENT_REFUSED = frozenset({401, 403, 404})
MANAGEMENT_GROUPS = frozenset({"management_routes", "key_management_routes", "spend_tracking_routes",
                               "global_spend_tracking_routes", "master_key_only_routes", "org_admin_only_routes"})
MANAGEMENT_PREFIXES = ("/key/", "/v2/key/", "/team/", "/v2/team/", "/user/", "/v2/user/", "/model/", "/v2/model/",
                       "/spend/", "/global/", "/config", "/organization/", "/customer/", "/end_user/", "/budget/",
                       "/credentials", "/jwt/", "/access_group", "/v1/access_group", "/guardrails", "/policies",
                       "/cache/", "/audit", "/settings", "/update/", "/router/", "/email/", "/sso/key/")
"""LiteLLM's management families besides the `LiteLLMRoutes` groups above (`/config*`, `/global/*`...)."""

WEBSOCKET_QUERY = "?model={model}"

AUTHENTICATED_WITHOUT_ROUTE_CHECK: dict[str, dict[str, Any]] = {
    "GET /v1/mcp/server/oauth/{server_id}/authorize": {"params": {"redirect_uri": "http://127.0.0.1/cb"}},
    "POST /v1/mcp/server/oauth/{server_id}/token": {"data": {"grant_type": "authorization_code", "code": "c",
                                                              "redirect_uri": "http://127.0.0.1/cb"}},
}
"""Routes whose handler authenticates a key without LiteLLM's `allowed_routes` check: 1.100.1's MCP
OAuth endpoints depend on `_mcp_oauth_user_api_key_auth`, which calls `_user_api_key_auth_builder`
directly, and the route check lives in `user_api_key_auth` only. Sent well-formed, they must answer
404 (the platform configures no MCP server) and reach nothing."""


def load_routes() -> dict[str, Any]:
    doc = json.loads(ROUTES_FILE.read_text())
    assert doc["litellmVersion"] == LITELLM_VERSION, (
        f"{ROUTES_FILE.name} lists LiteLLM {doc['litellmVersion']}'s routes but the platform runs {LITELLM_VERSION}: "
        f"regenerate it with tests/live/enumerate_litellm_routes.py")
    return doc


def _concrete(path: str, model: str) -> str:
    """A request path for a route template: model slots get a served model, a pass-through's
    `{endpoint:path}` the model server's chat route (the most useful target for a tenant)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if "model" in name:
            return model
        if name == "endpoint":
            return "v1/chat/completions"
        return "x1"

    return re.sub(r"\{([^}]+)\}", fill, path)


def _body(path: str, model: str, tag: str) -> dict[str, Any]:
    """One body that every LLM shape reads something from (chat, Responses, Anthropic, Gemini)."""
    if path.rstrip("/").endswith("/completions") and "chat" not in path:
        return {"model": model, "prompt": tag, "max_tokens": 5}
    return {"model": model, "messages": [{"role": "user", "content": tag}], "input": tag, "max_tokens": 5,
            "contents": [{"role": "user", "parts": [{"text": tag}]}]}


def is_management(route: dict[str, Any]) -> bool:
    return bool(MANAGEMENT_GROUPS & set(route["groups"])) or route["path"].startswith(MANAGEMENT_PREFIXES)


def on_tenant_list(path: str) -> bool:
    """LiteLLM 1.100.1 `RouteChecks._route_matches_allowed_route`: exact, or a path prefix."""
    return any(path == r or path.startswith(r + "/") for r in rc.TENANT_ROUTES)


class Sweeper:
    """Sends requests with a fresh connection after any transport error (LiteLLM closes some
    connections after a failed pass-through) and records what reached the backend for each."""

    def __init__(self, proxy: LiteLLMProxy, backend: FakeOpenAIBackend) -> None:
        self.proxy = proxy
        self.backend = backend
        self.clients: dict[str | None, httpx.Client] = {}

    def _client(self, key: str | None) -> httpx.Client:
        if key not in self.clients:
            self.clients[key] = httpx.Client(base_url=self.proxy.url, timeout=90.0, trust_env=False,
                                             headers={"Authorization": f"Bearer {key}"} if key else {})
        return self.clients[key]

    def send(self, key: str | None, method: str, path: str, body: dict[str, Any] | None,
             **request: Any) -> tuple[int, str, list]:
        """(status, start of the answer, what reached the backend); `request`: extra httpx arguments
        (`params`, `data` instead of the JSON body, `follow_redirects`)."""
        seen = len(self.backend.requests())
        if body is not None:
            request.setdefault("json", body)
        for attempt in range(2):
            try:
                resp = self._client(key).request(method, path, **request)
                status, text = resp.status_code, resp.text[:300]
                break
            except httpx.TransportError as exc:
                self.clients.pop(key).close()
                if attempt:
                    status, text = -1, repr(exc)
        return status, text, self.backend.requests()[seen:]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def websocket_status(proxy: LiteLLMProxy, path: str, key: str) -> int:
    """The HTTP status of a WebSocket handshake (101: accepted)."""
    url = urlsplit(proxy.url)
    request = (f"GET {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {key}\r\n\r\n")
    with socket.create_connection((url.hostname, url.port), timeout=60) as sock:
        sock.sendall(request.encode())
        head = sock.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
    return int(head.split()[1])


def template(path: str) -> str:
    """`/x/{name:path}` -> `/x/{name}`: FastAPI's OpenAPI document drops path converters."""
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)


def salt_of(req: Any) -> object:
    body = req.body if isinstance(req.body, dict) else {}
    return body.get("cache_salt", (body.get("extra_body") or {}).get("cache_salt"))


def test_a_tenant_key_reaches_the_model_only_salted_on_every_route_litellm_serves(start_proxy, fake_backend) -> None:
    doc = load_routes()
    gw = rendered_gateway("prod", fake_backend)
    proxy = start_proxy(gw.config, extra_files=gw.extra_files, env=gw.env, with_redis=gw.redis)
    model = gw.models[0]
    team = proxy.admin("POST", "/team/new", {"team_id": "routes-tenant", "team_alias": "routes-tenant",
                                             "models": list(gw.models)})
    # The key exactly as reconcile.ensure_key issues it.
    key = proxy.admin("POST", "/key/generate", {"team_id": team["team_id"], "key_alias": "llmp-routes-tenant-1",
                                                "allowed_routes": list(rc.TENANT_ROUTES)})["key"]
    salt = hmac.new(gw.env[SECRET_ENV["cache_salt_key"]].encode(), f"team:{team['team_id']}".encode(),
                    hashlib.sha256).hexdigest()

    http = [r for r in doc["routes"] if r["kind"] == "http"]
    mounts = [r for r in doc["routes"] if r["kind"] == "mount"]
    sockets = [r for r in doc["routes"] if r["kind"] == "websocket"]
    sweeper = Sweeper(proxy, fake_backend)
    problems: list[str] = []
    outcome: dict[str, list[str]] = {"served": [], "refused": [], "keyless": [], "mcp_oauth_404": [],
                                     "management": []}
    codes: dict[int, int] = {}  # management routes: status -> count
    handshakes: dict[str, int] = {}
    started = time.monotonic()
    try:
        calls = [(r, m) for r in http for m in r["methods"]] + [(r, m) for r in mounts for m in ("GET", "POST")]
        for route, method in calls:
            path = _concrete(route["path"], model)
            name = f"{method} {route['path']}"
            body = _body(path, model, f"route {name}") if method in ("POST", "PUT", "PATCH") else None
            status, text, reached = sweeper.send(key, method, path, body)
            unsalted = [r.path for r in reached if salt_of(r) != salt]
            if unsalted:
                problems.append(f"{name}: reached the backend without the tenant's salt at {unsalted} ({status})")
            management = is_management(route)
            if management:
                outcome["management"].append(name)
                codes[status] = codes.get(status, 0) + 1
            if on_tenant_list(path):
                outcome["served"].append(name)
                if management:
                    problems.append(f"{name}: a management route is on the tenant route list")
            elif status in (MANAGEMENT_REFUSED if management else REFUSED):
                outcome["refused"].append(name)
            elif name in AUTHENTICATED_WITHOUT_ROUTE_CHECK:
                status, text, more = sweeper.send(key, method, path, None, **AUTHENTICATED_WITHOUT_ROUTE_CHECK[name])
                outcome["mcp_oauth_404"].append(name)
                if status != 404 or more:
                    problems.append(f"{name}: well-formed, a tenant key got {status} ({text[:120]!r})")
            else:
                # Not refused: LiteLLM serves it to anyone (UI assets, liveness, SSO and OAuth
                # discovery...), so the tenant key may add nothing over no key at all.
                anon_status, anon_text, anon_reached = sweeper.send(None, method, path, body)
                outcome["keyless"].append(name)
                if anon_status != status or anon_reached or reached:
                    problems.append(f"{name}: a tenant key got {status} ({text[:100]!r}), no key got {anon_status}; "
                                    f"backend saw {len(reached)} / {len(anon_reached)} request(s)")

        # The two LLM shapes on the list answer, salted.
        for path, body in (("/v1/chat/completions", _body("/v1/chat/completions", model, "listed chat")),
                           ("/v1/completions", _body("/v1/completions", model, "listed text"))):
            status, text, reached = sweeper.send(key, "POST", path, body)
            if status != 200 or [r.path for r in reached] != ["/v1" + path.removeprefix("/v1")] \
                    or {salt_of(r) for r in reached} != {salt}:
                problems.append(f"POST {path}: {status} {text[:120]}; backend saw {[(r.path, salt_of(r)) for r in reached]}")

        # Spelling tricks on the shapes issue 15 found unsalted: each refused, nothing reaches the backend.
        for path in ("/v1/responses/", "//v1/responses", "/V1/responses", "/v1/messages/", "/v1/chat/completions/../responses",
                     f"/v1/models/{model}:generateContent", f"/v1beta/models/{model}:generateContent/",
                     "/v1/chat/completions/x", "/vllm/v1/chat/completions", "/openai/v1/chat/completions"):
            status, text, reached = sweeper.send(key, "POST", path, _body(path, model, f"trick {path}"),
                                                 follow_redirects=True)
            if status not in REFUSED or reached:
                problems.append(f"POST {path}: {status} {text[:120]}; backend saw {len(reached)} request(s)")

        for route in sockets:
            path = _concrete(route["path"], model) + WEBSOCKET_QUERY.format(model=model)
            status = websocket_status(proxy, path, key)
            handshakes[route["path"]] = status
            if status not in REFUSED:
                problems.append(f"WEBSOCKET {route['path']}: handshake answered {status}")

        # Every path the running proxy documents is on the checked-in list (a LiteLLM bump that adds
        # routes fails here until tests/live/enumerate_litellm_routes.py is re-run).
        documented = set(proxy.admin("GET", "/openapi.json")["paths"])
        missing = sorted({template(p) for p in documented} - {template(r["path"]) for r in doc["routes"]})
        if missing:
            problems.append(f"/openapi.json names {len(missing)} path(s) not in {ROUTES_FILE.name}: {missing[:10]}")

        time.sleep(1.0)  # anything the proxy sends in the background after answering
        late = [(r.method, r.path) for r in fake_backend.requests() if r.method == "POST" and salt_of(r) != salt]
        if late:
            problems.append(f"the backend received {len(late)} request(s) without the tenant's salt: {late[:10]}")
    finally:
        sweeper.close()
    elapsed = time.monotonic() - started

    summary = {k: len(v) for k, v in outcome.items()}
    assert not problems, f"{len(problems)} problem(s) over {len(calls)} calls ({summary}):\n" + "\n".join(problems)
    assert len(calls) > 900 and summary["management"] > 150, summary
    assert sorted(outcome["served"]) == sorted(
        ["POST /chat/completions", "POST /completions", "POST /v1/chat/completions", "POST /v1/completions",
         "GET /v1/models", "GET /v1/models/{model_id}"]), outcome["served"]
    assert set(codes) <= MANAGEMENT_REFUSED | {200, 400, 422, 501} and codes.get(403, 0) > 150, codes
    print(f"\n{len(calls)} calls + {len(sockets)} WebSocket handshakes in {elapsed:.1f} s: {summary}; "
          f"management routes by status: {dict(sorted(codes.items()))}; WebSocket handshakes: {handshakes}; "
          f"keyless management routes: {sorted(set(outcome['keyless']) & set(outcome['management']))}")
