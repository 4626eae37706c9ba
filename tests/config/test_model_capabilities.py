"""Per-model capabilities (issue 17): chat, completions (FIM) and tools, with a tool parser the pinned vLLM
release registers. A bad combination is a config error naming the key, the value and what is allowed."""

from __future__ import annotations

import pytest

from llmplatform.config import ConfigError, FimFormat, ModelCapability, load_platform_config
from llmplatform.serving import tool_parsers
from tests.config.test_stack_config import problems_of, stack_raw


def _model(raw: dict, name: str) -> dict:
    return next(m for m in raw["models"] if m["name"] == name)


def test_a_model_without_capabilities_serves_chat_only():
    raw = stack_raw("prod")
    assert "capabilities" not in _model(raw, "mistral-7b")
    model = load_platform_config(raw).model("mistral-7b")
    assert model.capabilities == (ModelCapability.CHAT,) and model.tool_call_parser is None and model.fim is None


def test_the_stacks_serve_a_coder_slice_beside_the_general_models():
    dev = load_platform_config(stack_raw("dev"))
    (coder,) = dev.models
    assert set(coder.capabilities) == set(ModelCapability) and coder.tool_call_parser == "hermes"
    assert coder.fim == FimFormat.QWEN_CODER
    prod = load_platform_config(stack_raw("prod"))
    instruct, base = prod.model("qwen-coder-7b"), prod.model("qwen-coder-7b-base")
    assert set(instruct.capabilities) == {ModelCapability.CHAT, ModelCapability.TOOLS}
    assert base.capabilities == (ModelCapability.COMPLETIONS,) and base.fim == FimFormat.QWEN_CODER
    coder_names = {"qwen-coder-7b", "qwen-coder-7b-base"}
    assert any(coder_names <= set(t.allowed_models) for t in prod.tenants)
    assert any(not coder_names & set(t.allowed_models) for t in prod.tenants)


def test_a_tools_parser_the_pinned_vllm_does_not_know_is_refused_with_the_key_named():
    raw = stack_raw("prod")
    _model(raw, "qwen-coder-7b")["tool_call_parser"] = "qwen2_5"
    text = problems_of(raw)
    assert "models[3].tool_call_parser: 'qwen2_5' is not allowed; must be a tool parser vLLM 0.14.0 registers" in text
    assert "hermes" in text and "1 problem(s)" in text


def test_a_misspelt_parser_gets_the_nearest_known_one():
    raw = stack_raw("dev")
    raw["models"][0]["tool_call_parser"] = "hermez"
    assert "models[0].tool_call_parser: 'hermez' is not allowed; must be a tool parser vLLM 0.14.0 registers " \
           "(did you mean 'hermes'?)" in problems_of(raw)


def test_a_fim_model_without_completions_is_refused_with_the_key_named():
    raw = stack_raw("prod")
    _model(raw, "qwen-coder-7b-base")["capabilities"] = ["chat"]
    assert "models[4].fim: 'qwen-coder' is not allowed; requires completions in capabilities" in problems_of(raw)


def test_tools_need_a_parser_and_chat_and_a_parser_needs_tools():
    raw = stack_raw("prod")
    del _model(raw, "qwen-coder-7b")["tool_call_parser"]
    _model(raw, "qwen-coder-7b-base")["capabilities"] = ["completions", "tools"]
    _model(raw, "qwen-coder-7b-base")["tool_call_parser"] = "hermes"
    _model(raw, "mistral-7b")["tool_call_parser"] = "mistral"
    text = problems_of(raw)
    assert "models[3].tool_call_parser: is required; capabilities lists tools" in text
    assert "models[4].capabilities: ['completions', 'tools'] is not allowed; tools requires chat" in text
    assert "models[1].tool_call_parser: 'mistral' is not allowed; only allowed when capabilities lists tools" in text


def test_an_unknown_or_repeated_capability_is_refused():
    raw = stack_raw("dev")
    raw["models"][0]["capabilities"] = ["chat", "fim"]
    assert "models[0].capabilities[1]: 'fim' is not allowed; must be one of: 'chat', 'completions' or 'tools'" \
        in problems_of(raw)
    raw["models"][0]["capabilities"] = ["chat", "tools", "chat"]
    assert "models[0].capabilities: ['chat', 'tools', 'chat'] is not allowed; must list each capability once" \
        in problems_of(raw)


@pytest.mark.parametrize("parser", tool_parsers.known_parsers())
def test_every_registered_parser_is_accepted(parser):
    raw = stack_raw("dev")
    raw["models"][0]["tool_call_parser"] = parser
    assert load_platform_config(raw).models[0].tool_call_parser == parser


def test_the_config_error_exits_2_without_a_traceback():
    raw = stack_raw("dev")
    raw["models"][0]["tool_call_parser"] = "nope"
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    assert info.value.exit_code == 2 and "Traceback" not in str(info.value)
