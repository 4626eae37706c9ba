"""Our checks on a rendered client file catch what the clients' schemas accept: planted breakages, each caught."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from llmp.ide.checks import problems
from llmp.ide.clients import Client, dump, render
from llmp.ide.roles import ClientModels, choose_models
from tests.ide.stacks import BASE_URL, config

LITERAL = "sk-AbCdEf0123456789abcdef"


def tenant_models() -> ClientModels:
    """A prod tenant with a chat, an autocomplete and an agent model (issue 17's coder slice)."""
    cfg = config("prod")
    for tenant in cfg.tenants:
        models = choose_models(cfg, tenant.name, "prod")
        if models.fim is not None and models.agent is not None:
            return models
    raise AssertionError("no prod tenant has FIM and agent models")


def found(client: Client, doc: dict[str, Any], models: ClientModels) -> list[str]:
    return problems(client, doc, dump(client, doc), models, BASE_URL)


@pytest.mark.parametrize("client", list(Client))
def test_the_rendered_file_passes(client: Client) -> None:
    models = tenant_models()
    assert found(client, render(client, models, BASE_URL, stack="prod"), models) == []


def _other(models: ClientModels) -> str:
    return next(m.served_name for m in config("prod").models if m.served_name not in
                {a.served_name for a in models.allowed})


PLANTS: dict[str, tuple[Client, Callable[[dict, ClientModels], None], str]] = {
    "continue literal key": (Client.CONTINUE, lambda d, m: d["models"][0].update(apiKey=LITERAL),
                             "a literal key (sk-...) in the file"),
    "continue key from another variable": (
        Client.CONTINUE, lambda d, m: d["models"][1].update(apiKey="${{ secrets.OPENAI_API_KEY }}"),
        "models[1].apiKey: must be '${{ secrets.LLMP_API_KEY }}' (the key from the environment), not another string"),
    "continue missing key": (Client.CONTINUE, lambda d, m: d["models"][0].pop("apiKey"),
                             "models[0].apiKey: must be '${{ secrets.LLMP_API_KEY }}'"),
    "continue other gateway": (Client.CONTINUE, lambda d, m: d["models"][1].update(apiBase="https://api.openai.com/v1"),
                               "models[1].apiBase: must be the gateway 'https://llm.example.com/v1'"),
    "continue model not allowed": (Client.CONTINUE, lambda d, m: d["models"][0].update(model=_other(m)),
                                   "is not a model tenant"),
    "continue no chat model": (Client.CONTINUE, lambda d, m: d["models"][0].update(roles=["edit"]),
                               "models: the first chat model must be"),
    "continue FIM on the chat endpoint": (Client.CONTINUE,
                                          lambda d, m: d["models"][1].pop("useLegacyCompletionsEndpoint"),
                                          "the autocomplete model must use /completions"),
    "continue FIM prompt with another model's tokens": (
        Client.CONTINUE, lambda d, m: d["models"][1]["promptTemplates"].update(
            autocomplete="<fim_prefix>{{{prefix}}}<fim_suffix>{{{suffix}}}<fim_middle>"),
        "the autocomplete prompt must use qwen2.5-coder-7b's FIM tokens (qwen-coder)"),
    "continue no autocomplete": (Client.CONTINUE, lambda d, m: d["models"].pop(1),
                                 "models: the autocomplete model must be"),
    "opencode literal key": (Client.OPENCODE,
                             lambda d, m: d["provider"]["llm-platform"]["options"].update(apiKey=LITERAL),
                             "provider.llm-platform.options.apiKey: must be '{env:LLMP_API_KEY}' (the key from the "
                             "environment), not a literal key"),
    "opencode model not listed": (Client.OPENCODE,
                                  lambda d, m: d["provider"]["llm-platform"]["models"].pop(m.agent.served_name),
                                  "names no model listed under provider.llm-platform.models"),
    "opencode model not allowed": (Client.OPENCODE, lambda d, m: d["provider"]["llm-platform"]["models"].update(
        {_other(m): {"name": "x"}}), "not a model tenant"),
    "opencode agent without tools": (Client.OPENCODE, lambda d, m: d["provider"]["llm-platform"]["models"][
        m.agent.served_name].update(tool_call=False), ".tool_call: must be true"),
    "opencode other provider": (Client.OPENCODE, lambda d, m: d.update(model="openai/gpt-4o"),
                                "model: must be llm-platform/"),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_a_planted_breakage_is_reported(plant: str) -> None:
    client, edit, message = PLANTS[plant]
    models = tenant_models()
    doc = copy.deepcopy(render(client, models, BASE_URL, stack="prod"))
    edit(doc, models)
    assert any(message in p for p in found(client, doc, models)), found(client, doc, models)
    assert all(LITERAL not in p for p in found(client, doc, models)), "a message must not repeat the key"
