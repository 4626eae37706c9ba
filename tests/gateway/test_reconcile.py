"""The tenant reconciler against a fake LiteLLM admin API: idempotent, updates only differences,
blocks removed tenants, rotates keys on request, never shows a key."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from llmplatform.gateway import reconcile as rc
from llmplatform.gateway.tenants import desired_state
from tests.gateway.conftest import served, stack_config
from tests.gateway.fake_litellm_admin import MASTER_KEY, FakeLiteLLM


def desired(stack: str = "prod", rotation: str = "", **overrides) -> rc.Desired:
    cfg = stack_config(stack, **overrides)
    doc = desired_state(cfg.tenants, cfg.models, served_names=served(cfg), key_namespaces={},
                        default_key_namespace="llm-tenant-gateway", rotation=rotation)
    return rc.Desired.from_json(json.loads(json.dumps(doc)))


@pytest.fixture
def fake():
    return FakeLiteLLM()


@pytest.fixture
def api(fake):
    return rc.AdminAPI.connect("http://litellm:4000", MASTER_KEY, transport=fake.transport())


def test_a_first_run_creates_every_team_with_its_budget_limits_and_models(fake, api):
    sink = rc.MemorySink()
    summary = rc.reconcile(api, desired(), sink)
    assert summary.created == ["analytics", "labs", "search", "support"]
    assert summary.keys_issued == summary.created
    search = fake.teams["search"]
    assert (search["max_budget"], search["budget_duration"], search["rpm_limit"], search["tpm_limit"]) == (
        5000.0, "30d", 600, 2_000_000)
    assert search["models"] == ["qwen2.5-1.5b-instruct", "qwen2.5-7b-instruct", "qwen2.5-coder-7b",
                                "qwen2.5-coder-7b-instruct"]
    assert search["metadata"] == {rc.MANAGED_BY_KEY: rc.MANAGED_BY}
    key = fake.valid(sink.keys["search"])
    assert key["team_id"] == "search" and key["key_alias"] == "llmp-search-1"
    # Only the routes whose requests the cache-salt hook salts, never the llm_api_routes bucket.
    assert key["allowed_routes"] == list(rc.TENANT_ROUTES)


def test_a_key_issued_with_other_routes_is_narrowed_in_place_not_rotated(fake, api):
    sink = rc.MemorySink()
    rc.reconcile(api, desired(), sink)
    row = fake.valid(sink.keys["search"])
    row["allowed_routes"] = ["llm_api_routes"]  # as a key made with key_type llm_api has
    keys_before = dict(sink.keys)
    summary = rc.reconcile(api, desired(), sink)
    assert not summary.keys_issued and sink.keys == keys_before
    assert fake.valid(sink.keys["search"])["allowed_routes"] == list(rc.TENANT_ROUTES)
    assert ("POST", "/key/update", {"key": row["token"], "allowed_routes": list(rc.TENANT_ROUTES)}) in fake.writes


def test_tenant_routes_never_prefix_a_route_that_reaches_a_model_unsalted():
    """LiteLLM matches an allowed route exactly or as a path prefix: `/models` would admit
    `/models/{model}:generateContent` (Google's API, not salted)."""
    for route in rc.TENANT_ROUTES:
        assert route.startswith("/") and not route.endswith("/")
    assert "/models" not in rc.TENANT_ROUTES


def test_a_second_run_changes_nothing(fake, api):
    sink = rc.MemorySink()
    rc.reconcile(api, desired(), sink)
    keys_before, writes_before = dict(sink.keys), len(fake.writes)
    summary = rc.reconcile(api, desired(), sink)
    assert not summary.changed
    assert summary.unchanged == ["analytics", "labs", "search", "support"]
    assert len(fake.writes) == writes_before and sink.keys == keys_before


def test_a_changed_budget_updates_only_that_field_of_that_team(fake, api):
    sink = rc.MemorySink()
    rc.reconcile(api, desired(), sink)
    before = len(fake.writes)
    cfg_tenants = [dict(t) for t in stack_config("prod").model_dump(mode="json")["tenants"]]
    cfg_tenants[0]["budget_usd"] = 7500  # search
    summary = rc.reconcile(api, desired(tenants=cfg_tenants), sink)
    assert summary.updated == ["search"] and not summary.keys_issued
    assert fake.writes[before:] == [("POST", "/team/update", {"team_id": "search", "max_budget": 7500.0})]
    assert fake.teams["search"]["max_budget"] == 7500.0


def test_a_removed_tenant_is_blocked_and_its_key_stops_working(fake, api):
    sink = rc.MemorySink()
    rc.reconcile(api, desired(), sink)
    remaining = [t for t in stack_config("prod").model_dump(mode="json")["tenants"] if t["name"] != "labs"]
    summary = rc.reconcile(api, desired(tenants=remaining), sink)
    assert summary.blocked == ["labs"]
    assert fake.valid(sink.keys["labs"]) is None and fake.valid(sink.keys["search"]) is not None
    assert not rc.reconcile(api, desired(tenants=remaining), sink).changed


def test_a_tenant_that_comes_back_is_unblocked_with_its_key(fake, api):
    sink = rc.MemorySink()
    rc.reconcile(api, desired(), sink)
    remaining = [t for t in stack_config("prod").model_dump(mode="json")["tenants"] if t["name"] != "labs"]
    rc.reconcile(api, desired(tenants=remaining), sink)
    summary = rc.reconcile(api, desired(), sink)
    assert summary.updated == ["labs"] and fake.valid(sink.keys["labs"]) is not None


def test_teams_the_platform_does_not_manage_are_left_alone(fake, api):
    fake.teams["hand-made"] = {"team_id": "hand-made", "team_alias": "hand-made", "metadata": {}, "blocked": False}
    rc.reconcile(api, desired(), rc.MemorySink())
    assert fake.teams["hand-made"]["blocked"] is False


def test_a_new_rotation_epoch_replaces_every_key_once(fake, api):
    sink = rc.MemorySink()
    rc.reconcile(api, desired(), sink)
    old = dict(sink.keys)
    summary = rc.reconcile(api, desired(rotation="2026-12"), sink)
    assert summary.keys_issued == ["analytics", "labs", "search", "support"] and summary.keys_revoked == 4
    assert all(fake.valid(k) is None for k in old.values())
    assert all(fake.valid(k) is not None for k in sink.keys.values())
    assert not rc.reconcile(api, desired(rotation="2026-12"), sink).changed


def test_rotate_names_one_tenant(fake, api):
    sink = rc.MemorySink()
    rc.reconcile(api, desired(), sink)
    old = dict(sink.keys)
    summary = rc.reconcile(api, desired(), sink, rotate=frozenset({"support"}))
    assert summary.keys_issued == ["support"]
    assert sink.keys["search"] == old["search"] and sink.keys["support"] != old["support"]
    assert {k["key_alias"] for k in fake.keys.values() if k["team_id"] == "support"} == {"llmp-support-2"}


def test_a_lost_secret_gets_a_fresh_key_and_the_unreachable_one_is_revoked(fake, api):
    sink = rc.MemorySink()
    rc.reconcile(api, desired(), sink)
    lost = sink.keys.pop("labs")
    summary = rc.reconcile(api, desired(), sink)
    assert summary.keys_issued == ["labs"] and fake.valid(lost) is None and fake.valid(sink.keys["labs"])


def test_a_failed_key_write_keeps_the_old_key_working(fake, api):
    class FailingSink(rc.MemorySink):
        fail = False

        def put(self, tenant, key):
            if self.fail:
                raise rc.ReconcileError("secret write refused")
            super().put(tenant, key)

    sink = FailingSink()
    rc.reconcile(api, desired(), sink)
    sink.fail = True
    with pytest.raises(rc.ReconcileError):
        rc.reconcile(api, desired(), sink, rotate=frozenset({"search"}))
    old = sink.keys["search"]
    assert fake.valid(old) is not None
    # The next run sees a newer key it cannot hand out (the orphan) and finishes the rotation.
    sink.fail = False
    summary = rc.reconcile(api, desired(), sink)
    assert summary.keys_issued == ["search"] and summary.keys_revoked == 2
    assert fake.valid(old) is None and fake.valid(sink.keys["search"]) is not None
    assert not rc.reconcile(api, desired(), sink).changed


def test_the_summary_and_cli_output_never_contain_a_key(fake, tmp_path, monkeypatch, capsys):
    doc = desired_state(stack_config("dev").tenants, stack_config("dev").models,
                        served_names=served(stack_config("dev")), key_namespaces={},
                        default_key_namespace="llm-tenant-gateway")
    (tmp_path / "tenants.json").write_text(json.dumps(doc))
    real_connect = rc.AdminAPI.connect
    monkeypatch.setattr(rc.AdminAPI, "connect", classmethod(
        lambda cls, url, key, transport=None: real_connect(url, key, transport=fake.transport())))
    monkeypatch.setenv(rc.MASTER_KEY_ENV, MASTER_KEY)
    code = rc.main(["--desired", str(tmp_path / "tenants.json"), "--proxy-url", "http://litellm:4000",
                    "--sink", f"file:{tmp_path / 'keys'}", "--wait-seconds", "1"])
    out = capsys.readouterr()
    assert code == 0 and "sk-" not in out.out + out.err
    assert json.loads(out.out)["created"] == ["search", "support"]
    key_file = tmp_path / "keys" / "search.key"
    assert key_file.stat().st_mode & 0o777 == 0o600 and fake.valid(key_file.read_text())


def test_the_cli_refuses_to_run_without_the_master_key(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(rc.MASTER_KEY_ENV, raising=False)
    (tmp_path / "t.json").write_text("{}")
    assert rc.main(["--desired", str(tmp_path / "t.json"), "--proxy-url", "http://x"]) == 2


def test_an_admin_api_error_names_the_call(fake):
    api = rc.AdminAPI.connect("http://litellm:4000", "sk-wrong", transport=fake.transport())
    with pytest.raises(rc.ReconcileError, match="GET /team/list: HTTP 401"):
        rc.reconcile(api, desired(), rc.MemorySink())


class FakeKubeAPI:
    """Secrets of a fake API server: GET by name, POST create, PUT replace with resourceVersion."""

    def __init__(self):
        self.secrets: dict[tuple[str, str], dict] = {}
        self.version = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")  # api v1 namespaces <ns> secrets [name]
        ns = parts[3]
        if request.method == "GET":
            obj = self.secrets.get((ns, parts[5]))
            return httpx.Response(200, json=obj) if obj else httpx.Response(404, json={"reason": "NotFound"})
        body = json.loads(request.content)
        name = body["metadata"]["name"]
        if request.method == "POST" and (ns, name) in self.secrets:
            return httpx.Response(409, json={"reason": "AlreadyExists"})
        if request.method == "PUT" and body["metadata"].get("resourceVersion") != self.secrets[(ns, name)][
                "metadata"]["resourceVersion"]:
            return httpx.Response(409, json={"reason": "Conflict"})
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        self.secrets[(ns, name)] = body
        return httpx.Response(201 if request.method == "POST" else 200, json=body)


def test_keys_land_in_tenant_secrets_through_the_kubernetes_api():
    kube = FakeKubeAPI()
    sink = rc.KubernetesSecretSink(httpx.Client(base_url="https://kube", transport=httpx.MockTransport(kube.handle)),
                                   base_url_for_tenants="http://litellm:4000/v1")
    tenant = desired().tenants[0]
    assert sink.get(tenant) is None
    sink.put(tenant, "sk-first")
    sink.put(tenant, "sk-second")
    assert sink.get(tenant) == "sk-second"
    secret = kube.secrets[("llm-tenant-gateway", f"tenant-{tenant.name}-key")]
    assert base64.b64decode(secret["data"]["base_url"]).decode() == "http://litellm:4000/v1"
    assert secret["metadata"]["labels"]["llmplatform.io/tenant"] == tenant.name
