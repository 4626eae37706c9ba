"""The tenant cache-salt hook: the file that is mounted into LiteLLM, tested as that file.

In the project venv LiteLLM is not installed, so the hook is loaded with a two-class stand-in for
`litellm.integrations.custom_logger` (it only subclasses CustomLogger). The last tests run the same
file under the real LiteLLM venv (`.venv-litellm`, the release the image runs: `images.LITELLM_VERSION`,
1.100.1) when it exists: LiteLLM's own callback
loader finds it next to config.yaml, and LiteLLM forwards the salt to an OpenAI-compatible server.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import json
import subprocess
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmplatform.gateway.hooks import hook_path
from tests.support.gates import REPO_ROOT, require


@pytest.fixture(scope="module")
def hook():
    fake_logger = types.ModuleType("litellm.integrations.custom_logger")
    fake_logger.CustomLogger = type("CustomLogger", (), {})
    names = ("litellm", "litellm.integrations", "litellm.integrations.custom_logger")
    saved = {n: sys.modules.get(n) for n in names}
    sys.modules.update({"litellm": types.ModuleType("litellm"),
                        "litellm.integrations": types.ModuleType("litellm.integrations"),
                        "litellm.integrations.custom_logger": fake_logger})
    try:
        spec = importlib.util.spec_from_file_location("tenant_cache_salt_under_test", hook_path())
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        for n, mod in saved.items():
            if mod is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = mod


@dataclass
class Key:
    team_id: str | None = None
    team_alias: str | None = None
    token: str | None = None


def call(hook, data, key, *, mode="tenant-salted", secret="platform-secret", call_type="acompletion"):
    return hook.apply_cache_policy(data, key, call_type, mode=mode, secret=secret)


def test_a_client_salt_is_removed_at_the_top_level_and_inside_extra_body(hook):
    data = {"model": "m", "cache_salt": "victim-salt", "extra_body": {"cache_salt": "x", "top_k": 5}}
    out = call(hook, data, Key(team_id="search"), mode="shared")
    assert "cache_salt" not in out and out["extra_body"] == {"top_k": 5}


def test_the_same_tenant_always_gets_the_same_salt(hook):
    a = call(hook, {"model": "m"}, Key(team_id="search"))["cache_salt"]
    b = call(hook, {"model": "m", "cache_salt": "mine"}, Key(team_id="search", token="other-key"))["cache_salt"]
    assert a == b and len(a) == 64 and int(a, 16) >= 0


def test_two_tenants_get_different_salts(hook):
    a = call(hook, {"model": "m"}, Key(team_id="search"))["cache_salt"]
    b = call(hook, {"model": "m"}, Key(team_id="support"))["cache_salt"]
    assert a != b


def test_the_salt_depends_on_the_platform_secret(hook):
    a = call(hook, {"model": "m"}, Key(team_id="search"), secret="one")["cache_salt"]
    b = call(hook, {"model": "m"}, Key(team_id="search"), secret="two")["cache_salt"]
    assert a != b
    assert a == hook.tenant_salt("one", "team:search")


def test_a_client_cannot_choose_another_tenants_salt(hook):
    victim = call(hook, {"model": "m"}, Key(team_id="search"))["cache_salt"]
    attacker = call(hook, {"model": "m", "cache_salt": victim, "extra_body": {"cache_salt": victim}},
                    Key(team_id="support"))
    assert attacker["cache_salt"] != victim and "cache_salt" not in attacker["extra_body"]


def test_a_key_without_a_team_is_its_own_scope(hook):
    a = call(hook, {"model": "m"}, Key(token="hash-a"))["cache_salt"]
    b = call(hook, {"model": "m"}, Key(token="hash-b"))["cache_salt"]
    assert a != b


@pytest.mark.parametrize("mode", ["shared", "off"])
def test_shared_and_off_tiers_add_no_salt(hook, mode):
    assert "cache_salt" not in call(hook, {"model": "m", "cache_salt": "c"}, Key(team_id="t"), mode=mode)


@pytest.mark.parametrize("call_type", ["acompletion", "completion", "atext_completion", "text_completion"])
def test_chat_and_text_completions_are_salted(hook, call_type):
    assert call(hook, {"model": "m"}, Key(team_id="t"), call_type=call_type)["cache_salt"]


# Call types LiteLLM 1.100.1 passes to a pre-call hook (litellm/types/utils.py CallTypes, and the
# proxy's pass-through / MCP / realtime endpoints) whose requests the hook cannot salt.
UNSALTABLE = ("aresponses", "responses", "anthropic_messages", "aanthropic_messages", "pass_through_endpoint",
              "aembedding", "embedding", "aimage_generation", "arerank", "asearch", "_arealtime",
              "_aresponses_websocket", "acreate_batch", "acreate_file", "acreate_interaction", "call_mcp_tool",
              "aquery", "aingest", "acreate_video", "some_future_call_type")


@pytest.mark.parametrize("mode", ["tenant-salted", "shared", "off"])
@pytest.mark.parametrize("call_type", UNSALTABLE)
def test_call_types_the_hook_cannot_salt_are_refused_with_403_in_every_mode(hook, call_type, mode):
    with pytest.raises(hook.CallTypeRefused) as refused:
        call(hook, {"input": "x", "cache_salt": "c"}, Key(team_id="t"), call_type=call_type, mode=mode)
    assert refused.value.status_code == 403 and call_type in str(refused.value.detail)


def test_a_tenant_salted_tier_without_its_secret_refuses_instead_of_sharing(hook):
    with pytest.raises(hook.CacheSaltConfigError):
        call(hook, {"model": "m"}, Key(team_id="t"), secret="")


def test_an_unknown_mode_is_a_configuration_error(hook, monkeypatch):
    monkeypatch.setenv(hook.MODE_ENV, "tenant_salted")
    with pytest.raises(hook.CacheSaltConfigError):
        hook.current_mode()


def test_the_hook_object_reads_mode_and_secret_from_the_environment(hook, monkeypatch):
    monkeypatch.setenv(hook.MODE_ENV, "tenant-salted")
    monkeypatch.setenv(hook.KEY_ENV, "k")
    # A private loop: asyncio.run() would unset the main thread's loop that the Pulumi mocks rely on.
    loop = asyncio.new_event_loop()
    try:
        out = loop.run_until_complete(hook.proxy_handler_instance.async_pre_call_hook(
            user_api_key_dict=Key(team_id="search"), cache=None, data={"model": "m"}, call_type="acompletion"))
    finally:
        loop.close()
    assert out["cache_salt"] == hook.tenant_salt("k", "team:search")


# --- under the real LiteLLM ------------------------------------------------------------------------

LITELLM_PY = REPO_ROOT / ".venv-litellm" / "bin" / "python"

REAL_LITELLM = textwrap.dedent('''
    import asyncio, http.server, json, os, shutil, sys, tempfile, threading
    os.environ.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LLMP_PREFIX_CACHE_MODE="tenant-salted",
                      LLMP_CACHE_SALT_KEY="platform-secret")
    import litellm
    from litellm.integrations.custom_logger import CustomLogger
    from litellm.proxy._types import UserAPIKeyAuth
    from litellm.proxy.types_utils.utils import get_instance_fn

    hook_file, config = sys.argv[1], json.loads(sys.argv[2])
    workdir = tempfile.mkdtemp()
    shutil.copy(hook_file, os.path.join(workdir, "tenant_cache_salt.py"))
    config_path = os.path.join(workdir, "config.yaml")
    open(config_path, "w").write("{}")
    # LiteLLM's own loader, as it resolves litellm_settings.callbacks relative to config.yaml.
    instance = get_instance_fn(config["litellm_settings"]["callbacks"][0], config_file_path=config_path)
    assert isinstance(instance, CustomLogger)
    assert type(instance).async_pre_call_hook is not CustomLogger.async_pre_call_hook

    bodies = []
    class Backend(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            bodies.append(body)
            out = json.dumps({"id": "x", "object": "chat.completion", "created": 1, "model": body["model"],
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                           "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
            self.send_response(200); self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out))); self.end_headers(); self.wfile.write(out)
        def log_message(self, *a): pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    async def main():
        salts = {}
        for team in ("search", "support"):
            data = {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                    "cache_salt": "client", "extra_body": {"cache_salt": "client"}}
            data = await instance.async_pre_call_hook(UserAPIKeyAuth(team_id=team, token="t-" + team), None,
                                                      data, "acompletion")
            salts[team] = data["cache_salt"]
            await litellm.acompletion(api_base=f"http://127.0.0.1:{server.server_address[1]}/v1",
                                      api_key="k", **{**data, "model": "openai/m"})
        return salts

    salts = asyncio.run(main())
    print(json.dumps({"salts": salts, "received": [b.get("cache_salt") for b in bodies],
                      "extra": [b.get("extra_body") for b in bodies]}))
''')


@pytest.mark.slow
def test_litellm_loads_the_hook_and_forwards_the_tenant_salt_to_the_model_server():
    require(LITELLM_PY.exists(), f"the LiteLLM venv is missing at {LITELLM_PY}; create it with "
            "`python -m tests.support.livestack.litellm_env`")
    from llmplatform.config.rules import control_plan_for
    from llmplatform.gateway.litellm_config import render_litellm_config
    from tests.gateway.conftest import served, stack_config

    cfg = stack_config("prod")
    config = render_litellm_config(cfg, control_plan=control_plan_for(cfg), gateway_url="http://unused",
                                   served_names=served(cfg))
    proc = subprocess.run([str(LITELLM_PY), "-c", REAL_LITELLM, str(hook_path()), json.dumps(config)],
                          capture_output=True, text=True, timeout=180, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    salts = result["salts"]
    assert salts["search"] != salts["support"] and "client" not in salts.values()
    assert result["received"] == [salts["search"], salts["support"]]


def test_the_mounted_file_needs_nothing_but_the_standard_library_and_litellm():
    # The LiteLLM image is all the pod has: a third-party import would fail there at start-up.
    # FastAPI is the proxy's own web framework (litellm[proxy] serves through it).
    tree = ast.parse(Path(hook_path()).read_text())
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__"}
    assert roots - {"litellm", "fastapi"} <= set(sys.stdlib_module_names)
