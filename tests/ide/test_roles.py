"""Which model an IDE uses for chat, autocomplete (FIM) and tool calls, among the tenant's allowed models."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmp.ide.clients import CONTINUE_FIM_TEMPLATES
from llmp.ide.roles import IdeConfigError, choose_models, require_usable
from llmplatform.config.model import FimFormat
from llmplatform.config.stack_file import load_stack_file
from tests.ide.stacks import config, project_with


def served(models, role: str) -> str | None:
    model = getattr(models, role)
    return None if model is None else model.served_name


def test_prod_search_chats_and_acts_with_the_coder_instruct_model_and_completes_with_the_base_model() -> None:
    models = choose_models(config("prod"), "search", "prod")
    assert (served(models, "chat"), served(models, "agent"), served(models, "fim")) == \
        ("qwen2.5-coder-7b-instruct", "qwen2.5-coder-7b-instruct", "qwen2.5-coder-7b")
    assert models.fim.fim == "qwen-coder"  # type: ignore[union-attr]


def test_dev_uses_its_one_coder_model_for_everything() -> None:
    models = choose_models(config("dev"), "search", "dev")
    assert {served(models, r) for r in ("chat", "agent", "fim")} == {"qwen2.5-coder-1.5b-instruct"}


def test_a_tenant_without_coder_models_gets_its_first_chat_model_only() -> None:
    models = choose_models(config("prod"), "support", "prod")
    assert (served(models, "chat"), models.agent, models.fim) == ("mistral-7b-instruct-v0.3", None, None)


def test_an_unknown_tenant_names_the_tenants_there() -> None:
    with pytest.raises(IdeConfigError, match="unknown tenant 'nobody' on stack prod; tenants there: search, support"):
        choose_models(config("prod"), "nobody", "prod")


def _prod_with(tmp_path: Path, **model_edits: dict) -> object:
    def edit(c: dict) -> None:
        for m in c["models"]:
            m.update(model_edits.get(m["name"], {}))
    return load_stack_file(project_with(tmp_path, "prod", edit), "prod")


def test_a_completions_model_without_fim_tokens_is_not_offered_for_autocomplete(tmp_path: Path) -> None:
    cfg = _prod_with(tmp_path, **{"qwen-coder-7b-base": {"fim": None}})
    assert choose_models(cfg, "search", "prod").fim is None


def test_a_base_model_wins_autocomplete_over_an_instruct_model_that_also_completes(tmp_path: Path) -> None:
    cfg = _prod_with(tmp_path, **{"qwen-coder-7b": {"capabilities": ["chat", "completions", "tools"],
                                                    "fim": "qwen-coder"}})
    assert served(choose_models(cfg, "search", "prod"), "fim") == "qwen2.5-coder-7b"
    cfg = _prod_with(tmp_path / "2", **{"qwen-coder-7b": {"capabilities": ["chat", "completions", "tools"],
                                                          "fim": "qwen-coder"}, "qwen-coder-7b-base": {"fim": None}})
    assert served(choose_models(cfg, "search", "prod"), "fim") == "qwen2.5-coder-7b-instruct"


def test_without_a_tools_model_chat_is_the_first_chat_model_and_there_is_no_agent(tmp_path: Path) -> None:
    cfg = _prod_with(tmp_path, **{"qwen-coder-7b": {"capabilities": ["chat"], "tool_call_parser": None}})
    models = choose_models(cfg, "search", "prod")
    assert (served(models, "chat"), models.agent) == ("qwen2.5-7b-instruct", None)


def test_a_fim_only_tenant_is_usable_by_continue_not_by_opencode(tmp_path: Path) -> None:
    cfg = load_stack_file(project_with(tmp_path, "prod", lambda c: c["tenants"][0].update(
        allowed_models=["qwen-coder-7b-base"])), "prod")
    models = choose_models(cfg, "search", "prod")
    require_usable(models, "continue", "prod")
    with pytest.raises(IdeConfigError, match="has no model opencode can use: it needs one with capability `chat`"):
        require_usable(models, "opencode", "prod")


def test_every_fim_format_has_a_continue_prompt_template_with_prefix_and_suffix() -> None:
    assert set(CONTINUE_FIM_TEMPLATES) == {f.value for f in FimFormat}
    for template in CONTINUE_FIM_TEMPLATES.values():
        assert template.index("{{{prefix}}}") < template.index("{{{suffix}}}")
