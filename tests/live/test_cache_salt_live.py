"""Live: what `cache_salt` the model server receives through the real proxy and the platform's hook.

vLLM shares prefix-cache blocks only between requests with equal `cache_salt`. Through the rendered
prod config (multi-team tier: tenant-salted) the backend must see one salt per tenant (the same for
all of a tenant's keys, different between tenants) and never a salt the client sent. The dev config
(trusted tier: shared) strips client salts and adds none, so every tenant shares one cache.

Keys are made as the tenant reconciler makes them (`allowed_routes` = `reconcile.TENANT_ROUTES`);
both salted call types are sent (chat and text completions). The shapes issue 15 found reaching
vLLM unsalted (Responses, Anthropic messages, Gemini generateContent) are refused (403) with
nothing reaching the backend, for such a key and for a `key_type: llm_api` key, which only the hook
stops. tests/live/test_tenant_routes_live.py covers every other route.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import pytest

from llmplatform.gateway import reconcile as rc
from llmplatform.gateway.litellm_config import PLAIN_ENV, SECRET_ENV
from tests.support.livestack.fake_backend import FakeOpenAIBackend
from tests.support.livestack.platform import rendered_gateway
from tests.support.livestack.proxy import LiteLLMProxy

pytestmark = pytest.mark.live

CLIENT_SALT = "client-chosen-salt"
"""What a client tries to put in the cache key (e.g. another tenant's salt it guessed)."""


def _team_with_keys(proxy: LiteLLMProxy, alias: str, model: str, keys: int) -> tuple[str, list[str]]:
    """A team and `keys` keys made as the tenant reconciler makes them (`allowed_routes`)."""
    team = proxy.admin("POST", "/team/new", {"team_alias": alias, "models": [model]})
    made = [proxy.admin("POST", "/key/generate", {"team_id": team["team_id"], "models": [model],
                                                  "allowed_routes": list(rc.TENANT_ROUTES)})["key"]
            for _ in range(keys)]
    return team["team_id"], made


def _send(proxy: LiteLLMProxy, key: str, model: str, tag: str, salt_in: str | None, route: str = "chat") -> None:
    """One chat (or text-completion) call whose prompt is `tag`; the client's salt goes top level, in
    extra_body, or nowhere."""
    extra: dict[str, Any] = {}
    if salt_in == "top":
        extra["cache_salt"] = CLIENT_SALT
    elif salt_in == "extra_body":
        extra["extra_body"] = {"cache_salt": CLIENT_SALT}
    if route == "chat":
        resp = proxy.chat(key, model, tag, **extra)
    else:
        with proxy.client(key) as client:
            resp = client.post("/v1/completions", json={"model": model, "prompt": tag, "max_tokens": 5, **extra})
    assert resp.status_code == 200, f"{tag}: {resp.status_code} {resp.text}\n{proxy.log_tail(30)}"


def _salts_by_tag(backend: FakeOpenAIBackend) -> dict[str, object]:
    """Prompt tag -> the `cache_salt` the backend received (None: no salt in the body)."""
    out: dict[str, object] = {}
    for req in backend.completion_requests():
        tag = req.body["messages"][-1]["content"] if "messages" in req.body else req.body["prompt"]
        out[tag] = req.body.get("cache_salt", (req.body.get("extra_body") or {}).get("cache_salt"))
    return out


# Which requests to send: (tag, tenant, key index, where the client puts its own salt, route).
PLAN = (
    ("a-key0-top", "a", 0, "top", "chat"),
    ("a-key0-extra", "a", 0, "extra_body", "chat"),
    ("a-key0-none", "a", 0, None, "chat"),
    ("a-key1-top", "a", 1, "top", "chat"),
    ("a-key1-text-top", "a", 1, "top", "text"),
    ("b-key0-top", "b", 0, "top", "chat"),
    ("b-key0-none", "b", 0, None, "chat"),
    ("b-key0-text-extra", "b", 0, "extra_body", "text"),
)

# The request shapes issue 15 found reaching vLLM unsalted (Responses, Anthropic messages, Gemini).
UNSALTED_SHAPES = (
    ("/v1/responses", lambda m, tag: {"model": m, "input": tag}),
    ("/v1/messages", lambda m, tag: {"model": m, "max_tokens": 5, "messages": [{"role": "user", "content": tag}]}),
    ("/v1beta/models/{m}:generateContent", lambda m, tag: {"contents": [{"role": "user", "parts": [{"text": tag}]}]}),
    ("/models/{m}:generateContent", lambda m, tag: {"contents": [{"role": "user", "parts": [{"text": tag}]}]}),
)


def _run_plan(proxy: LiteLLMProxy, model: str, backend: FakeOpenAIBackend) -> tuple[dict[str, str], dict[str, object]]:
    teams = {name: _team_with_keys(proxy, f"salt-tenant-{name}", model, keys=2 if name == "a" else 1)
             for name in ("a", "b")}
    for tag, tenant, index, salt_in, route in PLAN:
        _send(proxy, teams[tenant][1][index], model, tag, salt_in, route)
    return {name: team_id for name, (team_id, _) in teams.items()}, _salts_by_tag(backend)


def _team_key(proxy: LiteLLMProxy, team_id: str) -> str:
    return proxy.admin("POST", "/key/generate", {"team_id": team_id, "allowed_routes": list(rc.TENANT_ROUTES)})["key"]


def _refused_shapes(proxy: LiteLLMProxy, key: str, model: str, backend: FakeOpenAIBackend) -> dict[str, int]:
    """Send each of UNSALTED_SHAPES with `key`: path -> status. Nothing may reach the backend."""
    before = len(backend.requests())
    out: dict[str, int] = {}
    with proxy.client(key) as client:
        for path, body in UNSALTED_SHAPES:
            resp = client.post(path.format(m=model), json=body(model, f"shape {path}"))
            out[path] = resp.status_code
    assert backend.requests()[before:] == [], [(r.path, r.body) for r in backend.requests()[before:]]
    return out


def test_prod_backend_sees_one_platform_salt_per_tenant_and_never_the_clients(start_proxy, fake_backend) -> None:
    gw = rendered_gateway("prod", fake_backend)
    assert gw.env[PLAIN_ENV["prefix_cache_mode"]] == "tenant-salted"  # multi-team tier
    proxy = start_proxy(gw.config, extra_files=gw.extra_files, env=gw.env, with_redis=gw.redis)

    team_ids, salts = _run_plan(proxy, gw.models[0], fake_backend)

    assert sorted(salts) == sorted(tag for tag, *_ in PLAN)
    assert CLIENT_SALT not in salts.values()
    # The shapes LiteLLM cannot salt: a tenant key is refused by its route list before any handler,
    # and a key with LiteLLM's whole LLM-route bucket (key_type llm_api, e.g. made by hand) is
    # refused by the hook (403, call types aresponses / anthropic_messages / agenerate_content).
    broad = proxy.admin("POST", "/key/generate", {"team_id": team_ids["a"], "key_type": "llm_api"})["key"]
    for key in (_team_key(proxy, team_ids["a"]), broad):
        assert set(_refused_shapes(proxy, key, gw.models[0], fake_backend).values()) == {403}
    by_tenant = {t: {salts[tag] for tag, tenant, *_ in PLAN if tenant == t} for t in ("a", "b")}
    # One salt per tenant, across its requests and both of its keys; different between tenants.
    assert all(len(v) == 1 for v in by_tenant.values()), by_tenant
    (salt_a,), (salt_b,) = by_tenant["a"], by_tenant["b"]
    assert salt_a != salt_b
    # It is the HMAC of the team under the platform's secret: nothing a client can compute or pick.
    secret = gw.env[SECRET_ENV["cache_salt_key"]].encode()
    for name, salt in (("a", salt_a), ("b", salt_b)):
        assert isinstance(salt, str) and re.fullmatch(r"[0-9a-f]{64}", salt)
        assert salt == hmac.new(secret, f"team:{team_ids[name]}".encode(), hashlib.sha256).hexdigest()


def test_dev_shared_tier_strips_client_salts_and_adds_none(start_proxy, fake_backend) -> None:
    """Dev (trusted tier, `shared` mode): the hook still removes every client-supplied salt, and adds
    none, so all tenants share one prefix cache and no client can opt out of it.

    That a salt in the request data does reach the backend when left there is shown by the prod
    test above (the hook's own salt travels the same way), so `None` here means stripped."""
    gw = rendered_gateway("dev", fake_backend)
    assert gw.env[PLAIN_ENV["prefix_cache_mode"]] == "shared"
    proxy = start_proxy(gw.config, extra_files=gw.extra_files, env=gw.env, with_redis=gw.redis)

    _, salts = _run_plan(proxy, gw.models[0], fake_backend)

    assert sorted(salts) == sorted(tag for tag, *_ in PLAN)
    assert set(salts.values()) == {None}, salts
    # The hook refuses what it cannot strip a client salt from in the shared tier too.
    broad = proxy.admin("POST", "/key/generate", {"key_type": "llm_api"})["key"]
    assert set(_refused_shapes(proxy, broad, gw.models[0], fake_backend).values()) == {403}
