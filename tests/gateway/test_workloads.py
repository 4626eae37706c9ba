"""Pure specs of the gateway's Kubernetes objects, the desired-tenants document and the DB readiness probe."""

from __future__ import annotations

import http.server
import socket
import struct
import threading

import pytest

from llmplatform import labels
from llmplatform.gateway import db_ready, images, tenants, workloads
from llmplatform.predicates.images import is_pinned_by_digest
from tests.support.gates import require_crd_schemas
from llmp.verify.manifests.crd import validate_custom_resource
from tests.gateway.conftest import served, stack_config


def pod(**overrides) -> workloads.LitellmPod:
    base = dict(replicas=1, fail_closed=False, redis=False, prefix_cache_mode="shared", config_hash="h")
    return workloads.LitellmPod(**{**base, **overrides})


def cluster(db: workloads.BudgetDb) -> dict:
    return {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": workloads.BUDGET_DB, "namespace": "llm-tenant-gateway"},
            "spec": workloads.cnpg_cluster_spec(db)}


@pytest.mark.parametrize("db", [
    workloads.BudgetDb(instances=1, storage_gb=10),
    workloads.BudgetDb(instances=3, storage_gb=50, backup_bucket="gs://b", backup_gcp_service_account="sa@p.iam"),
], ids=["dev", "prod"])
def test_the_cnpg_cluster_fits_the_upstream_v1_30_schema_strictly(db):
    schemas = require_crd_schemas()
    assert validate_custom_resource(cluster(db), schema_dir=schemas, strict=True) == []


def test_prod_database_is_ha_synchronous_and_backed_up_with_workload_identity():
    spec = workloads.cnpg_cluster_spec(workloads.BudgetDb(instances=3, storage_gb=50, backup_bucket="gs://b/",
                                                          backup_gcp_service_account="sa@p.iam"))
    assert spec["instances"] == 3 and spec["affinity"]["enablePodAntiAffinity"] is True
    assert spec["postgresql"]["synchronous"] == {"method": "any", "number": 1, "dataDurability": "required"}
    assert spec["backup"]["barmanObjectStore"]["destinationPath"] == "gs://b/budget-db"
    assert spec["backup"]["barmanObjectStore"]["googleCredentials"] == {"gkeEnvironment": True}
    assert spec["serviceAccountTemplate"]["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": "sa@p.iam"}


def test_dev_database_is_one_instance_without_backups():
    spec = workloads.cnpg_cluster_spec(workloads.BudgetDb(instances=1, storage_gb=10))
    assert spec["instances"] == 1 and "backup" not in spec and "postgresql" not in spec


def test_database_pods_carry_the_budget_db_role_and_no_superuser_is_reachable():
    spec = workloads.cnpg_cluster_spec(workloads.BudgetDb(instances=1, storage_gb=10))
    assert spec["inheritedMetadata"]["labels"][labels.ROLE] == labels.ROLE_BUDGET_DB
    assert spec["enableSuperuserAccess"] is False
    assert spec["bootstrap"]["initdb"]["database"] == spec["bootstrap"]["initdb"]["owner"] == "litellm"
    assert "secret" not in spec["bootstrap"]["initdb"]  # CNPG then writes budget-db-app with a `uri` key


def test_litellm_reads_its_database_url_from_the_cnpg_app_secret():
    env = {e["name"]: e for e in workloads.litellm_env(pod())}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "budget-db-app", "key": "uri"}
    assert all("value" not in e for n, e in env.items() if n in ("LITELLM_MASTER_KEY", "VLLM_API_KEY",
                                                                 "LLMP_CACHE_SALT_KEY", "LITELLM_SALT_KEY"))


def test_litellm_runs_non_root_on_a_read_only_root_filesystem():
    spec = workloads.litellm_deployment_spec(pod())["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    proxy, migrate = spec["containers"][0], spec["initContainers"][0]
    assert proxy["securityContext"]["readOnlyRootFilesystem"] is True
    assert migrate["securityContext"]["readOnlyRootFilesystem"] is False  # prisma migrate writes its folders
    for c in (proxy, migrate):
        assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert {m["mountPath"] for m in c["volumeMounts"]} >= {"/tmp"}
    assert spec["automountServiceAccountToken"] is False and spec["serviceAccountName"] == workloads.LITELLM


def test_readiness_proves_the_database_only_on_fail_closed_stacks():
    closed = workloads.litellm_deployment_spec(pod(fail_closed=True))["template"]["spec"]["containers"][0]
    open_ = workloads.litellm_deployment_spec(pod())["template"]["spec"]["containers"][0]
    assert closed["readinessProbe"]["exec"]["command"] == ["python", "/etc/litellm/db_ready.py"]
    assert open_["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    for c in (closed, open_):
        assert c["livenessProbe"]["httpGet"]["path"] == "/health/liveliness"


def test_migrations_run_before_the_proxy_and_the_proxy_never_migrates():
    spec = workloads.litellm_deployment_spec(pod())["template"]["spec"]
    migrate, proxy = spec["initContainers"][0], spec["containers"][0]
    assert migrate["command"][-1] == "litellm.proxy.prisma_migration"
    assert {"name": "DISABLE_SCHEMA_UPDATE", "value": "true"} in proxy["env"]
    assert {e["name"] for e in migrate["env"]} == set(workloads.MIGRATE_ENV)


def test_redis_env_is_wired_only_with_redis():
    with_redis = {e["name"] for e in workloads.litellm_env(pod(redis=True, redis_host="h"))}
    without = {e["name"] for e in workloads.litellm_env(pod())}
    assert {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"} <= with_redis
    assert not {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"} & without


def test_redis_never_evicts_counters_and_keeps_its_buffer_across_restarts():
    conf = workloads.redis_config("pw")
    assert "maxmemory-policy noeviction" in conf and "appendonly yes" in conf and "requirepass pw" in conf
    sts = workloads.redis_statefulset_spec()
    container = sts["template"]["spec"]["containers"][0]
    assert "pw" not in str(sts) and container["env"][0]["name"] == "REDISCLI_AUTH"
    assert sts["template"]["metadata"]["labels"][labels.ROLE] == labels.ROLE_BUDGET_CACHE


def test_the_reconciler_may_touch_only_the_named_key_secrets():
    rules = workloads.reconciler_rules(["tenant-b-key", "tenant-a-key"])
    verbs = {v for r in rules for v in r["verbs"]}
    assert verbs == {"create", "get", "update"} and all(r["resources"] == ["secrets"] for r in rules)
    assert rules[1]["resourceNames"] == ["tenant-a-key", "tenant-b-key"]
    job = workloads.reconcile_job_spec(image="i", proxy_url="http://litellm:4000")["template"]
    assert job["metadata"]["labels"][labels.ROLE] == labels.ROLE_TENANT_RECONCILER


def test_every_image_is_pinned_by_digest():
    for image in (images.LITELLM_IMAGE, images.REDIS_IMAGE, images.POSTGRES_IMAGE,
                  f"ghcr.io/cloudnative-pg/cloudnative-pg:{images.CNPG_OPERATOR_IMAGE_TAG}"):
        assert is_pinned_by_digest(image), image


# --- desired tenants ------------------------------------------------------------------------------


def test_the_desired_document_lists_served_names_and_key_namespaces():
    cfg = stack_config("prod")
    doc = tenants.desired_state(cfg.tenants, cfg.models, served_names=served(cfg),
                                key_namespaces={"labs": "tenant-labs"}, default_key_namespace="llm-tenant-gateway")
    by_name = {t["name"]: t for t in doc["tenants"]}
    assert by_name["support"]["models"] == ["mistral-7b-instruct-v0.3", "qwen2.5-1.5b-instruct"]
    assert by_name["labs"]["key_namespace"] == "tenant-labs"
    assert by_name["search"]["key_namespace"] == "llm-tenant-gateway"
    assert by_name["search"]["team_id"] == "search" and by_name["search"]["budget_duration"] == "30d"


def test_the_document_hash_moves_with_a_budget_and_nothing_else():
    def h(budget=None, order=False):
        raw = stack_config("prod").model_dump(mode="json")
        if budget:
            raw["tenants"][0]["budget_usd"] = budget
        if order:
            raw["tenants"].reverse()
        cfg = stack_config("prod", tenants=raw["tenants"])
        return tenants.desired_hash(tenants.desired_state(cfg.tenants, cfg.models, served_names=served(cfg),
                                                          key_namespaces={}, default_key_namespace="ns"))
    assert h() == h(order=True) != h(budget=1234)


# --- db_ready probe -------------------------------------------------------------------------------


def fake_postgres(reply: bytes) -> int:
    srv = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = srv.accept()
        with conn:
            length = struct.unpack("!i", conn.recv(4))[0]
            conn.recv(length - 4)
            conn.sendall(reply)
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


def error(code: str) -> bytes:
    payload = b"SFATAL\0C" + code.encode() + b"\0Mno\0\0"
    return b"E" + struct.pack("!i", len(payload) + 4) + payload


def test_the_probe_accepts_a_server_that_asks_for_authentication():
    port = fake_postgres(b"R" + struct.pack("!ii", 8, 10))
    assert db_ready.database_ready(f"postgresql://litellm:pw@127.0.0.1:{port}/litellm") is None


def test_the_probe_rejects_a_starting_or_stopping_server_and_a_closed_port():
    port = fake_postgres(error("57P03"))
    assert "57P03" in db_ready.database_ready(f"postgresql://u:pw@127.0.0.1:{port}/d")
    closed = socket.create_server(("127.0.0.1", 0))
    dead = closed.getsockname()[1]
    closed.close()
    problem = db_ready.database_ready(f"postgresql://u:secret-pw@127.0.0.1:{dead}/d")
    assert "unreachable" in problem and "secret-pw" not in problem


def test_the_probe_requires_the_proxy_itself_to_be_ready():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.handle_request, daemon=True).start()
    assert db_ready.proxy_ready(srv.server_address[1]) == "/health/readiness answered 503"
