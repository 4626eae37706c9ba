"""A tenant's key is refused with `budget_exceeded` once its team budget is spent (prod config, real proxy).

The team comes from the reconciler (tenants as code) with a budget of a few cents; the fake
backend reports a fixed completion-token count, so every call's cost is exact arithmetic on the
per-token prices the platform renders into the proxy config.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from llmplatform.config.model import TenantSpec
from tests.support.livestack.platform import provision, rendered_gateway, wait_for

pytestmark = pytest.mark.live

BUDGET_USD = 0.05
COMPLETION_TOKENS = 100_000
"""Reported by the fake backend for every call: 100k x $0.20/Mtok = $0.02 a call on qwen-1.5b."""
MAX_TOKENS = 1_000
"""Sent with each call: bounds LiteLLM's pre-call reservation estimate to ~$0.0002."""
PROMPT = "spend some budget"
MODEL = "qwen-1-5b"
TENANT = {"name": "labs", "budget_usd": BUDGET_USD, "rpm": 600, "tpm": 50_000_000,
          "allowed_models": [MODEL], "gpu_quota": 1}


def prices(config: dict[str, Any], served: str) -> tuple[float, float]:
    """(input, output) USD per token of `served` in the rendered proxy config."""
    entry = next(m for m in config["model_list"] if m["model_name"] == served)
    params = entry["litellm_params"]
    return params["input_cost_per_token"], params["output_cost_per_token"]


def counted_spend(redis, team_id: str) -> float:
    """The team's spend as LiteLLM's admission check reads it: the cross-replica counter in Redis
    (`spend:team:<id>`, INCRBYFLOAT; LiteLLM 1.100.1 `get_current_spend`)."""
    value = redis.command("GET", f"spend:team:{team_id}")
    return float(value) if value is not None else 0.0


@pytest.mark.sr3_live("a tenant key is refused with budget_exceeded once its team budget is spent; "
                      "the backend sees no call after the refusal")
def test_a_tenant_key_is_refused_with_budget_exceeded_once_its_budget_is_spent(
        start_proxy, fake_backend, redis, live_facts) -> None:
    gw = rendered_gateway("prod", fake_backend, tenants=[TENANT])
    assert gw.redis  # prod: admission reads the spend counter in Redis
    proxy = start_proxy(gw.config, extra_files=gw.extra_files, env=gw.env, with_redis=gw.redis)
    cfg = gw.cfg
    served = {m.name: m.served_name for m in cfg.models}
    summary, keys = provision(proxy, cfg, [TenantSpec.model_validate(TENANT)])
    assert summary.created == ["labs"] and summary.keys_issued == ["labs"]
    key = keys["labs"]
    team = proxy.admin("GET", "/team/info", params={"team_id": "labs"})["team_info"]
    assert team["max_budget"] == pytest.approx(BUDGET_USD)

    in_price, out_price = prices(gw.config, served[MODEL])
    prompt_tokens = len(PROMPT.split())  # the fake backend's usage counts words
    call_cost = prompt_tokens * in_price + COMPLETION_TOKENS * out_price
    # Prod enforces strictly: a call is admitted while spend + its estimate fits the budget, so the
    # tenant gets ceil(budget / cost) calls (the estimate, <= MAX_TOKENS of output, is far below
    # the headroom left before the last admitted call; checked here so the arithmetic holds).
    expected_calls = math.ceil(BUDGET_USD / call_cost)
    estimate = prompt_tokens * in_price + MAX_TOKENS * out_price
    assert (expected_calls - 1) * call_cost + estimate < BUDGET_USD < expected_calls * call_cost

    fake_backend.completion_tokens = COMPLETION_TOKENS
    statuses: list[int] = []
    refusal = None
    for _ in range(expected_calls + 3):
        resp = proxy.chat(key, served[MODEL], PROMPT, max_tokens=MAX_TOKENS)
        statuses.append(resp.status_code)
        if resp.status_code != 200:
            refusal = resp
            break
        # LiteLLM settles a call's cost after the answer is sent (until then the counter holds
        # the call's reservation, its estimate). Waiting for the counter to hold every call served
        # so far, however long that takes on a loaded machine, makes each admission check see
        # every earlier call, which the exact count below is about.
        settled = wait_for(lambda: counted_spend(redis, "labs") >= statuses.count(200) * call_cost - 1e-12,
                           timeout_s=60, interval_s=0.1)
        assert settled, f"call {len(statuses)}'s cost never reached the spend counter: {counted_spend(redis, 'labs')}"
    assert refusal is not None, f"never refused after {len(statuses)} calls: {statuses}"
    served_calls = statuses.count(200)
    assert served_calls == expected_calls, statuses
    assert refusal.status_code == 429, refusal.text  # 1.100.1 answers budget_exceeded with 429 (1.106 moved to 422)
    error = refusal.json()["error"]
    assert error["type"] == "budget_exceeded", refusal.text
    assert len(fake_backend.completion_requests()) == served_calls

    # Refused again, and still nothing reaches the backend.
    again = proxy.chat(key, served[MODEL], PROMPT, max_tokens=MAX_TOKENS)
    assert again.status_code == refusal.status_code and again.json()["error"]["type"] == "budget_exceeded"
    assert len(fake_backend.completion_requests()) == served_calls

    # The spend LiteLLM books for the team (written to Postgres in batches) is exactly the calls served.
    expected_spend = served_calls * call_cost
    spend = wait_for(lambda: (s := proxy.admin("GET", "/team/info", params={"team_id": "labs"})["team_info"]
                              .get("spend") or 0.0) >= expected_spend - 1e-9 and s, timeout_s=90)
    assert spend == pytest.approx(expected_spend, rel=1e-9, abs=1e-12), spend
    assert 0 <= spend - BUDGET_USD < call_cost  # the last admitted call overshoots by less than one call

    live_facts.update({
        "budget_usd": BUDGET_USD,
        "call_cost_usd": call_cost,
        "calls_served": served_calls,
        "team_spend_usd": spend,
        "spend_beyond_budget_usd": round(spend - BUDGET_USD, 12),
        "refusal_status": refusal.status_code,
        "refusal_type": error["type"],
        "backend_calls_after_refusal": len(fake_backend.completion_requests()) - served_calls,
    })
