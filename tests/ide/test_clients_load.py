"""The clients themselves load what `llmp ide-config` writes, and answer a first request with it.

Continue: its config parser and zod schema (`@continuedev/config-yaml`), then its CLI (`cn -p`) for a chat
completion. opencode: its binary loads the file through its config schema and lists the models it resolved
(`opencode models llm-platform`), then runs a prompt (`opencode run`). Requests go to the fake OpenAI-compatible
backend, which accepts only the key the client read from $LLMP_API_KEY. Not covered here: Continue's
autocomplete, which only runs inside an editor (its model entry is checked by the schema and our checks).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from llmp.ide.build import build
from llmp.ide.clients import Client, dump, load
from llmp.ide.roles import choose_models
from tests.ide.stacks import BASE_URL, STACKS, config
from tests.support import ide_clients
from tests.support.gates import REPO_ROOT, require
from tests.support.livestack.fake_backend import FakeOpenAIBackend

KEY = "sk-test-ide-0123456789abcdef"


@pytest.fixture(scope="module", autouse=True)
def node_modules() -> None:
    reason = ide_clients.missing_reason()
    require(reason is None, f"IDE clients unavailable: {reason}")
    ide_clients.ensure_node_modules()


def write(tmp_path: Path, client: Client, text: str) -> Path:
    path = tmp_path / ("config.yaml" if client == Client.CONTINUE else "opencode.json")
    path.write_text(text)
    return path


def tenants(stack: str) -> list[str]:
    return [t.name for t in config(stack).tenants]


@pytest.mark.parametrize("stack", STACKS)
def test_continue_loads_every_tenants_file_without_an_error_or_warning(stack: str, tmp_path: Path) -> None:
    for tenant in tenants(stack):
        text = build(REPO_ROOT, stack, tenant, Client.CONTINUE, BASE_URL).text
        verdict = ide_clients.continue_validate(write(tmp_path, Client.CONTINUE, text))
        assert (verdict.errors, verdict.warnings) == ([], []), (tenant, verdict)


@pytest.mark.parametrize("stack", STACKS)
def test_opencode_loads_every_tenants_file_and_resolves_its_models(stack: str, tmp_path: Path) -> None:
    require(ide_clients.opencode_missing_reason() is None, str(ide_clients.opencode_missing_reason()))
    cfg = config(stack)
    checked: set[str] = set()  # tenants allowed the same models get the same file: load each text once
    for tenant in tenants(stack):
        models = choose_models(cfg, tenant, stack)
        if models.chat is None:  # nothing for opencode: test_cli shows the exit 2
            continue
        text = build(REPO_ROOT, stack, tenant, Client.OPENCODE, BASE_URL).text
        if text in checked:
            continue
        checked.add(text)
        # `opencode models` loads the file through opencode's config schema first (exit 1 and the path of the
        # bad field where it does not hold), then resolves the provider's models.
        listed = ide_clients.opencode(["models", "llm-platform"], config=write(tmp_path, Client.OPENCODE, text),
                                      home=tmp_path / "home")
        assert listed.returncode == 0, listed.stderr
        expected = sorted(f"llm-platform/{m.served_name}" for m in models.allowed if "chat" in m.capabilities)
        assert sorted(listed.stdout.split()) == expected
    assert checked


def test_continue_refuses_a_model_entry_without_its_model(tmp_path: Path) -> None:
    doc = load(Client.CONTINUE, build(REPO_ROOT, "dev", "search", Client.CONTINUE, BASE_URL).text)
    del doc["models"][0]["model"]
    verdict = ide_clients.continue_validate(write(tmp_path, Client.CONTINUE, yaml.safe_dump(doc)))
    assert verdict.errors and "models.0" in verdict.errors[0]


def test_continue_refuses_an_unknown_role(tmp_path: Path) -> None:
    doc = load(Client.CONTINUE, build(REPO_ROOT, "dev", "search", Client.CONTINUE, BASE_URL).text)
    doc["models"][-1]["roles"] = ["tab-complete"]
    verdict = ide_clients.continue_validate(write(tmp_path, Client.CONTINUE, yaml.safe_dump(doc)))
    assert verdict.errors


def test_continue_warns_about_an_instruct_model_used_for_autocomplete(tmp_path: Path) -> None:
    doc = load(Client.CONTINUE, build(REPO_ROOT, "dev", "search", Client.CONTINUE, BASE_URL).text)
    doc["models"][-1]["model"] = "mistral-7b-instruct-v0.3"
    verdict = ide_clients.continue_validate(write(tmp_path, Client.CONTINUE, yaml.safe_dump(doc)))
    assert verdict.errors == [] and any("not trained for tab-autocomplete" in w for w in verdict.warnings)


@pytest.mark.parametrize(("path", "value", "message"), [
    (("provider", "llm-platform", "options", "baseURL"), 5, "provider.llm-platform.options.baseURL"),
    (("provider", "llm-platform", "models", None, "tool_call"), "yes", ".tool_call"),
])
def test_opencode_refuses_a_wrongly_typed_field(path: tuple, value: object, message: str, tmp_path: Path) -> None:
    require(ide_clients.opencode_missing_reason() is None, str(ide_clients.opencode_missing_reason()))
    doc = copy.deepcopy(load(Client.OPENCODE, build(REPO_ROOT, "dev", "search", Client.OPENCODE, BASE_URL).text))
    node = doc
    for part in path[:-1]:
        node = node[next(iter(node)) if part is None else part]
    node[path[-1]] = value
    path_file = write(tmp_path, Client.OPENCODE, json.dumps(doc))
    checked = ide_clients.opencode(["models", "llm-platform"], config=path_file, home=tmp_path / "home")
    assert checked.returncode != 0
    assert "Configuration is invalid" in checked.stderr + checked.stdout and message in checked.stderr + checked.stdout


@pytest.fixture
def backend():
    # The agents send their tools on every turn: answered with a tool call each time, they would never stop.
    with FakeOpenAIBackend(api_key=KEY, answer_tools=False) as server:
        yield server


def test_opencode_answers_a_first_prompt_with_the_key_from_the_environment(backend: FakeOpenAIBackend,
                                                                          tmp_path: Path) -> None:
    require(ide_clients.opencode_missing_reason() is None, str(ide_clients.opencode_missing_reason()))
    result = build(REPO_ROOT, "prod", _agent_tenant("prod"), Client.OPENCODE, backend.url)
    path = write(tmp_path, Client.OPENCODE, result.text)
    agent = result.models.agent.served_name  # type: ignore[union-attr]
    run = ide_clients.opencode(["run", "say hello to the platform"], config=path, home=tmp_path / "home",
                               env={"LLMP_API_KEY": KEY})
    assert run.returncode == 0, run.stderr
    assert f"{agent}: " in run.stdout and "say hello to the platform" in run.stdout
    sent = backend.completion_requests()
    assert sent and {r.body["model"] for r in sent} == {agent}
    assert {r.path for r in sent} == {"/v1/chat/completions"}, "the base URL's path is kept"
    assert {authorization(r) for r in sent} == {f"Bearer {KEY}"}, "the key is only in the environment"
    assert any(r.body.get("tools") for r in sent), "opencode sends its tools to the agent model"
    assert all(r.body.get("max_tokens", 0) <= result.models.agent.max_model_len // 4 for r in sent)  # type: ignore[union-attr]


def test_continue_cli_answers_a_first_prompt_with_the_key_from_the_environment(backend: FakeOpenAIBackend,
                                                                              tmp_path: Path) -> None:
    result = build(REPO_ROOT, "prod", _agent_tenant("prod"), Client.CONTINUE, backend.url)
    path = write(tmp_path, Client.CONTINUE, result.text)
    run = ide_clients.continue_cli("say hello to the platform", config=path, home=tmp_path / "home",
                                   env={"LLMP_API_KEY": KEY})
    assert run.returncode == 0, run.stderr + run.stdout
    chat = result.models.chat.served_name
    assert f"{chat}: say hello to the platform" in run.stdout
    sent = backend.completion_requests()
    assert sent and {r.body["model"] for r in sent} == {chat}
    assert {r.path for r in sent} == {"/v1/chat/completions"}, "the base URL's path is kept"
    assert {authorization(r) for r in sent} == {f"Bearer {KEY}"}, "the key is only in the environment"


def authorization(request) -> str | None:
    return next((v for k, v in request.headers.items() if k.lower() == "authorization"), None)


def _agent_tenant(stack: str) -> str:
    cfg = config(stack)
    return next(t.name for t in cfg.tenants if choose_models(cfg, t.name, stack).agent is not None)


def test_the_written_text_round_trips(tmp_path: Path) -> None:
    for client in Client:
        text = build(REPO_ROOT, "dev", "search", client, BASE_URL).text
        assert dump(client, load(client, text)) == text
