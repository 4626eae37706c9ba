"""Proof that the live harness works: real Postgres, Redis and LiteLLM proxy on loopback."""

from __future__ import annotations

import httpx
import pytest

from tests.support.livestack.fake_backend import FakeOpenAIBackend, litellm_model
from tests.support.livestack.postgres import PostgresError, PostgresServer
from tests.support.livestack.redis import RedisServer


def test_postgres_stops_and_restarts_with_its_data(postgres: PostgresServer) -> None:
    dsn = postgres.create_database("smoke_pg")
    assert dsn.startswith("postgresql://postgres:") and f":{postgres.port}/smoke_pg" in dsn
    postgres.psql("CREATE TABLE IF NOT EXISTS t (v int); INSERT INTO t VALUES (7)", database="smoke_pg")
    postgres.stop()
    assert not postgres.is_running()
    with pytest.raises(PostgresError):
        postgres.psql("SELECT 1", database="smoke_pg", timeout=20)
    postgres.start()
    assert postgres.psql("SELECT sum(v) FROM t", database="smoke_pg").strip() == "7"
    postgres.kill()
    assert not postgres.is_running()
    postgres.start()
    assert postgres.psql("SELECT 1").strip() == "1"


def test_redis_requires_its_password_and_survives_restart(redis: RedisServer) -> None:
    assert redis.command("SET", "livestack", "1") == "OK"
    assert redis.command("CONFIG", "GET", "save") == ["save", ""]
    redis.stop()
    assert not redis.is_running()
    redis.start()
    assert redis.command("GET", "livestack") is None  # no persistence


def test_fake_backend_records_requests(fake_backend: FakeOpenAIBackend) -> None:
    with httpx.Client(trust_env=False, timeout=10) as client:
        resp = client.post(f"{fake_backend.url}/chat/completions",
                           json={"model": "m", "messages": [{"role": "user", "content": "one two"}], "cache_salt": "s1"})
        models = client.get(f"{fake_backend.url}/models").json()
        fake_backend.fail_next(1, status=503)
        failed = client.post(f"{fake_backend.url}/completions", json={"model": "m", "prompt": "p"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["choices"][0]["message"]["content"] == "m: one two"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert models["data"][0]["id"] == "fake-model"
    assert failed.status_code == 503
    recorded = fake_backend.completion_requests()
    assert [r.body.get("cache_salt") for r in recorded] == ["s1", None]


def test_real_proxy_with_team_key_reaches_backend_and_refuses_unknown_key(start_proxy, fake_backend, postgres) -> None:
    proxy = start_proxy(
        {
            "model_list": [litellm_model("fake", fake_backend)],
            "general_settings": {"allow_requests_on_db_unavailable": False},
            "litellm_settings": {"drop_params": True},
        }
    )
    readiness = httpx.get(f"{proxy.url}/health/readiness", timeout=10, trust_env=False).json()
    assert readiness["db"] == "connected"

    team = proxy.admin("POST", "/team/new", {"team_alias": "smoke-team", "max_budget": 5.0, "models": ["fake"]})
    key = proxy.admin("POST", "/key/generate", {"team_id": team["team_id"], "models": ["fake"]})["key"]
    info = proxy.admin("GET", "/key/info", params={"key": key})
    assert info["info"]["team_id"] == team["team_id"]

    resp = proxy.chat(key, "fake", "hello livestack", user="smoke-user")
    assert resp.status_code == 200, f"{resp.status_code} {resp.text}\n{proxy.log_tail(40)}"
    assert resp.json()["choices"][0]["message"]["content"] == "fake-model: hello livestack"

    forwarded = fake_backend.completion_requests()
    assert len(forwarded) == 1
    assert forwarded[0].body["model"] == "fake-model"
    assert forwarded[0].body["messages"] == [{"role": "user", "content": "hello livestack"}]

    refused = proxy.chat("sk-livestack-never-issued", "fake", "let me in")
    assert refused.status_code == 401, refused.text
    assert len(fake_backend.completion_requests()) == 1  # the refused call never reached the backend

    # The harness can take the database away under a running proxy: with
    # allow_requests_on_db_unavailable false an unknown key gets 503 no_db_connection (fail closed,
    # not 401 and not served), which needs the WASM engine to report the outage like the native one.
    postgres.stop()
    try:
        down = proxy.chat("sk-livestack-never-issued-2", "fake", "db is down")
        assert down.status_code == 503, f"{down.status_code} {down.text}"
        assert down.json()["error"]["type"] == "no_db_connection"
    finally:
        postgres.start()
    assert len(fake_backend.completion_requests()) == 1
