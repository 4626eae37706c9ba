"""LiteLLM's config.yaml rendered from the stack config: SR3 knobs per profile, prices, Redis wiring."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from llmplatform.gateway.litellm_config import (
    HOOK_CALLBACK,
    PLAIN_ENV,
    SECRET_ENV,
    budget_facts,
    cost_per_token,
    render_litellm_config,
    secret_env_names,
)
from llmplatform.config.rules import control_plan_for
from llmplatform.controls.sr3_fail_closed.predicates import LITELLM_CONFIG_KEY, facts_from_objects, sr3_violations
from tests.gateway.conftest import served, stack_config

URL = "http://inference-gateway-istio.llm-gateway.svc.cluster.local"


def render(stack: str, **overrides):
    cfg = stack_config(stack, **overrides)
    return cfg, render_litellm_config(cfg, control_plan=control_plan_for(cfg), gateway_url=URL,
                                      served_names=served(cfg))


def test_dev_keeps_serving_when_the_database_is_down_and_prod_refuses():
    _, dev = render("dev")
    _, prod = render("prod")
    assert dev["general_settings"]["allow_requests_on_db_unavailable"] is True
    assert "fail_closed_budget_enforcement" not in dev["general_settings"]
    assert prod["general_settings"]["allow_requests_on_db_unavailable"] is False
    assert prod["general_settings"]["fail_closed_budget_enforcement"] is True


def test_the_key_cache_ttl_comes_from_the_stack_config(stack):
    cfg, config = render(stack)
    assert config["general_settings"]["user_api_key_cache_ttl"] == cfg.tenant_gateway.key_cache_ttl_seconds
    assert render("prod")[1]["general_settings"]["user_api_key_cache_ttl"] == 10


def test_every_model_points_at_the_inference_gateway_with_the_vllm_key_from_the_environment(stack):
    cfg, config = render(stack)
    assert [e["model_name"] for e in config["model_list"]] == [m.served_name for m in cfg.models]
    for entry in config["model_list"]:
        params = entry["litellm_params"]
        assert params["model"] == f"openai/{entry['model_name']}"
        assert params["api_base"] == URL + "/v1"
        assert params["api_key"] == "os.environ/VLLM_API_KEY"


def test_prices_are_per_token_in_both_places_litellm_reads_them(stack):
    cfg, config = render(stack)
    for model, entry in zip(cfg.models, config["model_list"]):
        for where in (entry["litellm_params"], entry["model_info"]):
            assert where["input_cost_per_token"] == pytest.approx(model.input_cost_per_mtok_usd / 1e6)
            assert where["output_cost_per_token"] == pytest.approx(model.output_cost_per_mtok_usd / 1e6)
        assert entry["model_info"]["max_output_tokens"] == model.max_model_len


@given(st.decimals(min_value="0.001", max_value="1000", places=3))
def test_a_price_per_million_tokens_renders_exactly(price):
    assert cost_per_token(float(price)) * 1_000_000 == pytest.approx(float(price), rel=1e-12)
    assert "0000000000" not in repr(cost_per_token(float(price)))


def test_redis_coordinates_spend_across_replicas_only_where_configured():
    _, dev = render("dev")
    _, prod = render("prod")
    assert "coordination_redis" not in dev["general_settings"] and "router_settings" not in dev
    assert "cache" not in dev["litellm_settings"]
    general = prod["general_settings"]
    assert general["coordination_redis"] == {"host": "os.environ/REDIS_HOST", "port": "os.environ/REDIS_PORT",
                                             "password": "os.environ/REDIS_PASSWORD"}
    assert general["use_redis_transaction_buffer"] is True
    assert prod["router_settings"]["redis_host"] == "os.environ/REDIS_HOST"
    assert prod["litellm_settings"]["cache"] is True


def test_the_redis_cache_block_caches_no_response():
    # A response cache keyed without the tenant would hand one tenant another's completion.
    params = render("prod")[1]["litellm_settings"]["cache_params"]
    assert params["type"] == "redis" and params["supported_call_types"] == [] and params["mode"] == "default_off"


def test_budget_reservation_stays_on_and_models_come_only_from_the_file(stack):
    general = render(stack)[1]["general_settings"]
    assert general["disable_budget_reservation"] is False
    assert general["store_model_in_db"] is False


def test_the_cache_salt_hook_and_the_prometheus_callback_are_registered(stack):
    assert render(stack)[1]["litellm_settings"]["callbacks"] == [HOOK_CALLBACK, "prometheus"]
    assert HOOK_CALLBACK == "tenant_cache_salt.proxy_handler_instance"


def test_credentials_are_only_environment_references(stack):
    text = yaml.safe_dump(render(stack)[1])
    refs = set(re.findall(r"os\.environ/(\w+)", text))
    assert refs <= set(SECRET_ENV.values()) | set(PLAIN_ENV.values())
    assert {"LITELLM_MASTER_KEY", "DATABASE_URL", "VLLM_API_KEY"} <= refs
    assert "sk-" not in text


def test_extra_headers_reach_only_the_named_model():
    cfg = stack_config("prod")
    config = render_litellm_config(cfg, control_plan=control_plan_for(cfg), gateway_url=URL, served_names=served(cfg),
                                   extra_headers={"qwen-7b": {"x-gateway-model-name": "qwen2.5-7b-instruct"}})
    headers = {e["model_info"]["id"]: e["litellm_params"].get("extra_headers") for e in config["model_list"]}
    assert headers == {"qwen-7b": {"x-gateway-model-name": "qwen2.5-7b-instruct"}, "mistral-7b": None,
                       "qwen-1-5b": None, "qwen-coder-7b": None, "qwen-coder-7b-base": None}


def test_each_entry_states_its_mode_and_tool_support_from_the_model_capabilities():
    cfg, config = render("prod")
    info = {e["model_info"]["id"]: e["model_info"] for e in config["model_list"]}
    assert {name: i["mode"] for name, i in info.items()} == {
        "qwen-7b": "chat", "mistral-7b": "chat", "qwen-1-5b": "chat", "qwen-coder-7b": "chat",
        "qwen-coder-7b-base": "completion"}
    assert {name for name, i in info.items() if i.get("supports_function_calling")} == {"qwen-coder-7b"}
    assert info["qwen-coder-7b"]["supports_tool_choice"] is True
    _, dev = render("dev")
    (entry,) = dev["model_list"]
    assert entry["model_info"]["mode"] == "chat" and entry["model_info"]["supports_function_calling"] is True


def test_every_capability_of_a_model_is_charged_at_its_prices():
    cfg, config = render("prod")
    for entry in config["model_list"]:
        model = cfg.model(entry["model_info"]["id"])
        for where in (entry["litellm_params"], entry["model_info"]):
            assert where["input_cost_per_token"] == pytest.approx(model.input_cost_per_mtok_usd / 1e6)
            assert where["output_cost_per_token"] == pytest.approx(model.output_cost_per_mtok_usd / 1e6)


def test_a_model_without_a_served_name_is_an_error():
    cfg = stack_config("prod")
    with pytest.raises(ValueError, match="mistral-7b"):
        render_litellm_config(cfg, control_plan=control_plan_for(cfg), gateway_url=URL,
                              served_names={"qwen-7b": "a", "qwen-1-5b": "b"})


def test_the_rendered_configs_satisfy_sr3_with_the_shared_predicate(stack):
    cfg, config = render(stack)
    gw = cfg.tenant_gateway
    facts = budget_facts(config, postgres_instances=gw.postgres_instances, gateway_replicas=gw.replicas)
    assert sr3_violations(facts, fail_closed_required=control_plan_for(cfg).fail_closed) == []


def test_the_shared_predicate_flags_a_planted_fail_open_prod_config():
    cfg, config = render("prod")
    config["general_settings"]["allow_requests_on_db_unavailable"] = True
    del config["general_settings"]["fail_closed_budget_enforcement"]
    del config["general_settings"]["coordination_redis"]
    facts = budget_facts(config, postgres_instances=3, gateway_replicas=3)
    reasons = [p.reason for p in sr3_violations(facts, fail_closed_required=True)]
    assert len(reasons) == 3
    assert any("allow_requests_on_db_unavailable" in r for r in reasons)
    assert any("Redis" in r for r in reasons)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_component_and_the_manifest_reader_read_the_config_the_same_way(stack):
    cfg, config = render(stack)
    gw = cfg.tenant_gateway
    from_component = budget_facts(config, postgres_instances=gw.postgres_instances, gateway_replicas=gw.replicas)
    pod = {"metadata": {"labels": {"llmplatform.io/role": "cache"}}}
    objects = [{"kind": "ConfigMap", "data": {LITELLM_CONFIG_KEY: yaml.safe_dump(config)}},
               {"kind": "Deployment", "spec": {"replicas": gw.replicas,
                                               "template": {"metadata": {"labels": {"llmplatform.io/role": "gw"}}}}},
               {"kind": "StatefulSet", "spec": {"template": pod}},
               {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
                "spec": {"instances": gw.postgres_instances}}]
    from_manifests = facts_from_objects(objects, tenant_gateway_role="gw", budget_cache_role="cache")
    assert from_manifests == from_component
    assert from_component.redis_wired is gw.redis


@pytest.mark.parametrize(("edit", "problem"), [
    ({"allow_requests_on_db_unavailable": "yes"}, "allow_requests_on_db_unavailable"),
    ({"fail_closed_budget_enforcement": "true"}, "fail_closed_budget_enforcement"),
    ({"use_redis_transaction_buffer": False}, "without Redis"),
])
def test_an_odd_value_in_a_prod_config_reads_as_a_violation(edit, problem):
    _, config = render("prod")
    config["general_settings"].update(edit)
    reasons = [p.reason for p in sr3_violations(budget_facts(config, postgres_instances=3, gateway_replicas=3),
                                                fail_closed_required=True)]
    assert [r for r in reasons if problem in r], reasons


def test_secret_env_names_list_redis_only_with_redis():
    assert "redis_password" not in secret_env_names(redis=False)
    assert secret_env_names(redis=True)["redis_password"] == "REDIS_PASSWORD"
    assert secret_env_names(redis=False)["master_key"] == "LITELLM_MASTER_KEY"
