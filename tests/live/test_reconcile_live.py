"""The tenant reconciler against the real LiteLLM proxy running the prod stack's own config.

The desired state is built from `Pulumi.prod.yaml` exactly as TenantGateway renders it into the
reconcile Job's ConfigMap, and the first two runs execute `reconcile.py` as the Job does: the file
as a script, with the LiteLLM venv's Python, `--desired <json>` and the master key in the
environment. Every assertion reads the proxy's own admin answers (`/team/info`, `/key/info`,
`/key/list`) or calls the proxy with the issued keys; key values never reach the test output.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from llmplatform import naming
from llmplatform.config.model import TenantSpec
from llmplatform.gateway import reconcile as rc
from llmplatform.gateway import tenants as tenants_mod
from tests.support.livestack.platform import RenderedGateway, rendered_gateway

pytestmark = pytest.mark.live

RECONCILE_SCRIPT = Path(rc.__file__)


def desired_document(gw: RenderedGateway, tenants: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The Job's `tenants.json` for `gw`'s stack (or for `tenants` instead of the stack's own list)."""
    cfg = gw.cfg
    specs = cfg.tenants
    if tenants is not None:
        specs = tuple(TenantSpec.model_validate(t) for t in tenants)
    # TenantGateway: served names from the models, every key Secret in the gateway namespace
    # (no `key_namespaces` on this tier), the default rotation epoch.
    return tenants_mod.desired_state(
        specs, cfg.models, served_names={m.name: m.served_name for m in cfg.models}, key_namespaces={},
        default_key_namespace=naming.NS_TENANT_GATEWAY, rotation="")


def run_job(python: Path, desired: Path, proxy, keys_dir: Path) -> dict[str, Any]:
    """`python reconcile.py --desired ... --proxy-url ... --sink file:DIR` as the Job runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "HTTP_PROXY", "HTTPS_PROXY",
                                                                     "http_proxy", "https_proxy", "ALL_PROXY"))}
    env[rc.MASTER_KEY_ENV] = proxy.master_key
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    done = subprocess.run(
        [str(python), str(RECONCILE_SCRIPT), "--desired", str(desired), "--proxy-url", proxy.url,
         "--sink", f"file:{keys_dir}", "--wait-seconds", "30"],
        capture_output=True, text=True, timeout=300, env=env, cwd=keys_dir.parent)
    # A key must never be printed: checked before anything else looks at the output.
    assert "sk-" not in done.stdout + done.stderr, "the reconciler printed a key"
    assert done.returncode == 0, f"reconcile.py exited {done.returncode}: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def team_info(proxy, team_id: str) -> dict[str, Any]:
    return proxy.admin("GET", "/team/info", params={"team_id": team_id})["team_info"]


def key_info(proxy, key: str) -> dict[str, Any]:
    return proxy.admin("GET", "/key/info", params={"key": key})["info"]


def all_keys(proxy) -> list[dict[str, Any]]:
    """Every virtual key the proxy holds (full rows), in a stable order."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        doc = proxy.admin("GET", "/key/list", params={"return_full_object": "true", "size": 100, "page": page})
        rows += doc["keys"]
        if page >= int(doc.get("total_pages") or 1):
            return sorted(rows, key=lambda k: k["token"])
        page += 1


def state(proxy, team_ids: list[str]) -> dict[str, Any]:
    """The proxy's whole team and key state, as a second run must leave it."""
    return {"teams": {t: team_info(proxy, t) for t in team_ids}, "keys": all_keys(proxy)}


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two JSON values differ (readable failure messages for the state comparison)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} -> {b!r}"]


def wait_refused(proxy, key: str, model: str, within_s: float):
    """Call with `key` until the proxy refuses it (a cached key keeps working until its TTL).

    Returns the last answer and when it was sent (seconds from now); calls go on being sent until
    `within_s`, so a slow answer on a loaded machine does not end the wait early."""
    started = time.monotonic()
    while True:
        sent_s = time.monotonic() - started
        resp = proxy.chat(key, model, "am I still in")
        if resp.status_code >= 400 or sent_s > within_s:
            return resp, sent_s
        time.sleep(1.0)


@pytest.mark.sr3_live("the tenant reconciler creates every prod tenant's team and key with its budget and "
                      "limits; a second run changes nothing; a changed budget updates; a removed tenant is blocked")
def test_reconciler_provisions_prod_tenants_idempotently_on_the_real_proxy(
        start_proxy, fake_backend, livestack_env, tmp_path, live_facts) -> None:
    gw = rendered_gateway("prod", fake_backend)
    proxy = start_proxy(gw.config, extra_files=gw.extra_files, env=gw.env, with_redis=gw.redis)
    doc = desired_document(gw)
    desired_file = tmp_path / "tenants.json"
    desired_file.write_text(tenants_mod.desired_json(doc))
    keys_dir = tmp_path / "keys"
    names = [t["name"] for t in doc["tenants"]]
    team_ids = [t["team_id"] for t in doc["tenants"]]
    assert names == ["analytics", "labs", "search", "support"]

    # --- first run, as the Job: one team and one key per tenant ---------------------------------
    first = run_job(livestack_env.python, desired_file, proxy, keys_dir)
    assert first["created"] == names and first["keys_issued"] == names
    assert first["updated"] == first["blocked"] == [] and first["keys_revoked"] == 0
    sink = rc.FileSink(keys_dir)
    for t in doc["tenants"]:
        team = team_info(proxy, t["team_id"])
        assert team["team_alias"] == t["name"]
        assert team["max_budget"] == pytest.approx(t["budget_usd"])
        assert team["budget_duration"] == t["budget_duration"] == "30d"
        assert (team["rpm_limit"], team["tpm_limit"]) == (t["rpm"], t["tpm"])
        assert sorted(team["models"]) == t["models"]
        assert not team.get("blocked")
        tenant = rc.Tenant(**{**t, "models": tuple(t["models"])})
        key = sink.get(tenant)
        assert key is not None and (keys_dir / f"{t['name']}.key").stat().st_mode & 0o777 == 0o600
        info = key_info(proxy, key)
        assert info["team_id"] == t["team_id"] and info["key_alias"] == f"llmp-{t['name']}-1"
        assert sorted(info["allowed_routes"]) == sorted(rc.TENANT_ROUTES)  # salted routes only (issue 15)
    keys = {n: (keys_dir / f"{n}.key").read_text() for n in names}
    assert len(set(keys.values())) == len(names)

    # --- second run, as the Job: a no-op, and the proxy's state is identical ---------------------
    before = state(proxy, team_ids)
    second = run_job(livestack_env.python, desired_file, proxy, keys_dir)
    after = state(proxy, team_ids)
    assert second == {"created": [], "updated": [], "unchanged": names, "blocked": [], "keys_issued": [],
                      "keys_revoked": 0}
    assert differences(before, after) == []
    assert {n: (keys_dir / f"{n}.key").read_text() for n in names} == keys
    live_facts["keys_after_first_run"] = len(before["keys"])
    live_facts["keys_after_second_run"] = len(after["keys"])

    # The keys work for their own models only (labs may call qwen-1.5b, not qwen-7b). Called after
    # the no-op check because the spend a call writes (asynchronously) changes the state.
    served = proxy.chat(keys["labs"], "qwen2.5-1.5b-instruct", "hello from labs")
    assert served.status_code == 200, served.text
    other_model = proxy.chat(keys["labs"], "qwen2.5-7b-instruct", "not mine")
    assert other_model.status_code in (401, 403), other_model.text
    assert [r.body["model"] for r in fake_backend.completion_requests()] == ["qwen2.5-1.5b-instruct"]

    # --- a changed budget updates that team only (in-process, same code) -------------------------
    api = rc.AdminAPI.connect(proxy.url, proxy.master_key)
    changed = [dict(t) for t in gw.cfg.model_dump(mode="json")["tenants"]]
    for t in changed:
        if t["name"] == "search":
            t["budget_usd"] = 7500
    summary = rc.reconcile(api, rc.Desired.from_json(desired_document(gw, changed)), sink)
    assert summary.updated == ["search"] and not summary.created and not summary.keys_issued
    assert team_info(proxy, "search")["max_budget"] == pytest.approx(7500)
    assert team_info(proxy, "support")["max_budget"] == pytest.approx(2000)
    live_facts["search_budget_after_update_usd"] = team_info(proxy, "search")["max_budget"]

    # --- a removed tenant is blocked: its key is refused, the others still work ------------------
    remaining = [t for t in changed if t["name"] != "labs"]
    summary = rc.reconcile(api, rc.Desired.from_json(desired_document(gw, remaining)), sink)
    assert summary.blocked == ["labs"] and not summary.created and not summary.keys_issued
    assert team_info(proxy, "labs")["blocked"] is True
    fake_backend.clear()
    ttl = gw.cfg.tenant_gateway.key_cache_ttl_seconds
    refused, after_s = wait_refused(proxy, keys["labs"], "qwen2.5-1.5b-instruct", within_s=ttl + 10)
    assert refused.status_code in (401, 403), f"{refused.status_code} {refused.text}"
    assert "block" in refused.text.lower(), refused.text
    served_before_refusal = len(fake_backend.completion_requests())
    still = proxy.chat(keys["search"], "qwen2.5-1.5b-instruct", "search still served")
    assert still.status_code == 200, still.text

    # --- the tenant comes back: its team is unblocked and the same key works again --------------
    summary = rc.reconcile(api, rc.Desired.from_json(desired_document(gw, changed)), sink)
    assert summary.updated == ["labs"] and not summary.keys_issued and not summary.blocked
    assert not team_info(proxy, "labs")["blocked"]
    # The blocked team was last read into LiteLLM's cache before the unblock, so a call sent more
    # than ttl after it is served; the bound is on when calls are sent, not on how fast they answer.
    unblocked_at = time.monotonic()
    while True:
        sent_s = time.monotonic() - unblocked_at
        back = proxy.chat(keys["labs"], "qwen2.5-1.5b-instruct", "back again")
        if back.status_code == 200:
            break
        assert sent_s < ttl + 10, f"still refused {sent_s:.1f} s after the unblock: {back.status_code} {back.text}"
        time.sleep(1.0)
    live_facts["blocked_key_status"] = refused.status_code
    live_facts["blocked_key_refused_after_s"] = round(after_s, 1)
    live_facts["blocked_key_calls_served_while_cached"] = served_before_refusal
    live_facts["key_cache_ttl_seconds"] = ttl
    api.client.close()
