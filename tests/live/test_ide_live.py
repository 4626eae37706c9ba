"""Live: a tenant key and `llmp ide-config`'s files, through the real proxy with the rendered prod config, to the
first answer of each IDE client and to an autocomplete request as Continue writes it.

The key is made as the tenant reconciler makes it (team models, `allowed_routes` = `reconcile.TENANT_ROUTES`),
so this shows the clients need no route the key refuses: opencode (agent model, with its tools) and Continue's
CLI (chat model) answer, and a FIM request on `/v1/completions`, its prompt written with the file's
`promptTemplates.autocomplete`, streams back; the backend sees each request with the tenant's cache salt.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from llmp.ide.build import build
from llmp.ide.clients import Client, load
from llmplatform.gateway import reconcile as rc
from tests.support import ide_clients
from tests.support.gates import REPO_ROOT, require
from tests.support.livestack.fake_backend import FakeOpenAIBackend
from tests.support.livestack.platform import rendered_gateway

pytestmark = pytest.mark.live

TENANT = "search"


def test_a_reconciler_made_key_serves_opencode_continue_and_autocomplete_through_the_gateway(
        start_proxy, fake_backend: FakeOpenAIBackend, tmp_path: Path) -> None:
    require(ide_clients.opencode_missing_reason() is None, f"IDE clients: {ide_clients.opencode_missing_reason()}")
    ide_clients.ensure_node_modules()
    fake_backend.answer_tools = False  # the agents send tools every turn; a tool call each time would never end
    gw = rendered_gateway("prod", fake_backend)
    proxy = start_proxy(gw.config, extra_files=gw.extra_files, env=gw.env, with_redis=gw.redis)
    tenant = next(t for t in gw.cfg.tenants if t.name == TENANT)
    served = [m.served_name for m in gw.cfg.models if m.name in tenant.allowed_models]
    team = proxy.admin("POST", "/team/new", {"team_alias": TENANT, "max_budget": 100.0, "models": served})
    key = proxy.admin("POST", "/key/generate", {"team_id": team["team_id"], "models": served,
                                                "allowed_routes": list(rc.TENANT_ROUTES)})["key"]
    base = f"{proxy.url}/v1"
    env = {"LLMP_API_KEY": key}

    opencode = build(REPO_ROOT, "prod", TENANT, Client.OPENCODE, base)
    (tmp_path / "opencode.json").write_text(opencode.text)
    run = ide_clients.opencode(["run", "say hello to the platform"], config=tmp_path / "opencode.json",
                               home=tmp_path / "oc", env=env)
    assert run.returncode == 0, f"{run.stderr}\n{proxy.log_tail(30)}"
    agent = opencode.models.agent.served_name  # type: ignore[union-attr]
    assert f"{agent}: " in run.stdout and "say hello to the platform" in run.stdout
    sent = fake_backend.completion_requests()
    assert sent and any(r.body.get("tools") for r in sent) and all(r.body.get("cache_salt") for r in sent)
    fake_backend.clear()

    cont = build(REPO_ROOT, "prod", TENANT, Client.CONTINUE, base)
    (tmp_path / "config.yaml").write_text(cont.text)
    cn = ide_clients.continue_cli("say hello to the platform", config=tmp_path / "config.yaml",
                                  home=tmp_path / "cn", env=env)
    assert cn.returncode == 0, f"{cn.stderr}{cn.stdout}\n{proxy.log_tail(30)}"
    assert f"{cont.models.chat.served_name}: " in cn.stdout  # type: ignore[union-attr]
    fake_backend.clear()

    fim_entry = next(m for m in load(Client.CONTINUE, cont.text)["models"] if "autocomplete" in m["roles"])
    prompt = (fim_entry["promptTemplates"]["autocomplete"].replace("{{{prefix}}}", "def add(a, b):\n    ")
              .replace("{{{suffix}}}", "\n"))
    with httpx.Client(base_url=fim_entry["apiBase"], headers={"Authorization": f"Bearer {key}"}, timeout=60,
                      trust_env=False) as client:
        with client.stream("POST", "/completions", json={"model": fim_entry["model"], "prompt": prompt,
                                                         "max_tokens": 16, "stream": True}) as resp:
            assert resp.status_code == 200, resp.read()
            lines = [line for line in resp.iter_lines() if line.startswith("data:")]
    assert lines[-1] == "data: [DONE]" and len(lines) > 2
    (fim,) = fake_backend.completion_requests()
    assert fim.path == "/v1/completions" and fim.body["model"] == fim_entry["model"]
    assert fim.body["prompt"] == prompt and fim.body.get("cache_salt")
