"""Kubernetes object specs of the tenant gateway as pure functions (camelCase dicts, no Pulumi).

TenantGateway wraps each in a typed pulumi_kubernetes resource; the tests and the live harness
read the same dicts. Values that are Pulumi Outputs (namespace names) pass through untouched.
Physical names live here, checked against the DNS-label limit once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmplatform import labels, naming, ports
from llmplatform.gateway import images
from llmplatform.gateway.litellm_config import CONFIG_FILE, PLAIN_ENV, SECRET_ENV
from llmplatform.k8s import checkov_skips

LITELLM = naming.k8s("litellm")
"""Deployment, Service, ServiceAccount and PodDisruptionBudget of the proxy."""
LITELLM_CONFIG = naming.k8s("litellm-config")
LITELLM_SECRETS = naming.k8s("litellm-secrets")
BUDGET_DB = naming.k8s("budget-db")
"""CNPG Cluster; CNPG derives `budget-db-rw` (Service) and `budget-db-app` (credentials, key `uri`)."""
BUDGET_CACHE = naming.k8s("budget-cache")
BUDGET_CACHE_AUTH = naming.k8s("budget-cache-auth")
RECONCILER = naming.k8s("tenant-reconciler")
KEY_SECRET = "tenant-{name}-key"

CONFIG_DIR = "/etc/litellm"
RECONCILER_DIR = "/etc/llmp"
DB_READY_FILE = "db_ready.py"
RECONCILE_FILE = "reconcile.py"
DESIRED_FILE = "tenants.json"

SECRET_KEYS = {"master_key": "master-key", "salt_key": "salt-key", "cache_salt_key": "cache-salt-key",
               "vllm_api_key": "vllm-api-key"}
"""Logical secret -> key inside the `litellm-secrets` Secret."""

MIGRATE_ENV = frozenset({SECRET_ENV["database_url"], SECRET_ENV["master_key"], SECRET_ENV["salt_key"],
                         "LITELLM_LOCAL_MODEL_COST_MAP", "HOME"})
"""What `prisma_migration` needs: the database, the boot-time master-key check, no model credentials."""

LITELLM_UID = 65534
"""The user the litellm-non_root image runs as."""

BUDGET_CACHE_UID = 10999
"""Valkey runs as this UID rather than the image's `valkey` user (999): above 10000, so it cannot
coincide with a host account. valkey-server needs no passwd entry; /data is writable through fsGroup."""

LITELLM_ANNOTATIONS = checkov_skips.annotations("CKV_K8S_11", "CKV_K8S_22", "CKV_K8S_35")
"""On the proxy Deployment: accepted checkov findings (reasons in llmplatform/k8s/checkov_skips.py)."""
BUDGET_CACHE_ANNOTATIONS = checkov_skips.annotations("CKV_K8S_11", "CKV_K8S_35")
"""On the Valkey StatefulSet: accepted checkov findings."""
RECONCILER_ANNOTATIONS = checkov_skips.annotations("CKV_K8S_35", "CKV_K8S_38")
"""On the tenant reconcile Job: accepted checkov findings."""

RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _pod_security(uid: int) -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def role_labels(component: str, role: str) -> dict[str, str]:
    return {**labels.standard(component, "tenant-gateway"), labels.ROLE: role}


def selector(component: str) -> dict[str, str]:
    return {labels.NAME: component, labels.PART_OF: "llm-platform"}


def service_url(namespace: str) -> str:
    return f"http://{LITELLM}.{namespace}.svc.cluster.local:{ports.LITELLM_HTTP}"


def redis_host(namespace: str) -> str:
    return f"{BUDGET_CACHE}.{namespace}.svc.cluster.local"


@dataclass(frozen=True, kw_only=True)
class LitellmPod:
    """What decides the proxy's pod: plain values only."""

    image: str = images.LITELLM_IMAGE
    replicas: int | None
    """Pods the Deployment asks for; None: a HorizontalPodAutoscaler owns the count (`spec.replicas` is left
    unset so a `pulumi up` never resets what the autoscaler chose)."""
    cpu_request_m: int = 500
    memory_request_mi: int = 1024
    memory_limit_mi: int = 2048
    fail_closed: bool
    """True: readiness also proves the budget database answers (db_ready.py), prod's SR3 profile."""
    redis: bool
    redis_host: Any = None
    prefix_cache_mode: str
    config_hash: str
    """Pod-template annotation: a changed config.yaml or hook rolls the pods."""
    spread: bool = False
    """True: spread replicas across zones and nodes (prod)."""


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def litellm_env(pod: LitellmPod) -> list[dict[str, Any]]:
    env = [_secret_env(SECRET_ENV[k], LITELLM_SECRETS, v) for k, v in SECRET_KEYS.items()]
    env.append(_secret_env(SECRET_ENV["database_url"], f"{BUDGET_DB}-app", "uri"))
    env += [
        {"name": PLAIN_ENV["prefix_cache_mode"], "value": pod.prefix_cache_mode},
        {"name": "PORT", "value": str(ports.LITELLM_HTTP)},
        # Schema migrations run once per pod in the `migrate` init container, not in every worker.
        {"name": "DISABLE_SCHEMA_UPDATE", "value": "true"},
        # Prices come from config.yaml; the bundled map avoids a start-up fetch from GitHub.
        {"name": "LITELLM_LOCAL_MODEL_COST_MAP", "value": "True"},
        {"name": "HOME", "value": "/tmp"},
    ]
    if pod.redis:
        env += [{"name": PLAIN_ENV["redis_host"], "value": pod.redis_host},
                {"name": PLAIN_ENV["redis_port"], "value": str(ports.REDIS)},
                _secret_env(SECRET_ENV["redis_password"], BUDGET_CACHE_AUTH, "password")]
    return sorted(env, key=lambda e: e["name"])


def _writable(*paths: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    names = [p.strip("/").replace("/", "-").replace(".", "") or "root" for p in paths]
    mounts = [{"name": n, "mountPath": p} for n, p in zip(names, paths)]
    volumes = [{"name": n, "emptyDir": {"sizeLimit": "512Mi"}} for n in names]
    return mounts, volumes


def litellm_deployment_spec(pod: LitellmPod) -> dict[str, Any]:
    """The proxy Deployment's spec: non-root, read-only root filesystem, config and hook from a ConfigMap."""
    # The non_root image bakes its Prisma engines and UI under /app and /var/lib/litellm; at run time
    # the proxy only needs scratch space (tiktoken cache, temp files).
    scratch_mounts, scratch_volumes = _writable("/tmp")
    config_mount = {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}
    env = litellm_env(pod)
    http = {"port": ports.LITELLM_HTTP}
    if pod.fail_closed:
        readiness = {"exec": {"command": ["python", f"{CONFIG_DIR}/{DB_READY_FILE}"]},
                     "periodSeconds": LITELLM_READINESS_PERIOD_S, "timeoutSeconds": 5, "failureThreshold": 2}
    else:
        readiness = {"httpGet": {"path": "/health/readiness", **http}, "periodSeconds": LITELLM_READINESS_PERIOD_S,
                     "timeoutSeconds": 5}
    container = {
        "name": "litellm",
        "image": pod.image,
        "args": ["--config", f"{CONFIG_DIR}/{CONFIG_FILE}", "--port", str(ports.LITELLM_HTTP)],
        "ports": [{"name": "http", "containerPort": ports.LITELLM_HTTP, "protocol": "TCP"}],
        "env": env,
        "startupProbe": {"httpGet": {"path": "/health/liveliness", **http}, "periodSeconds": LITELLM_STARTUP["period"],
                         "failureThreshold": LITELLM_STARTUP["failures"]},
        # Liveness never depends on the database: an outage must not restart every proxy at once.
        "livenessProbe": {"httpGet": {"path": "/health/liveliness", **http}, "periodSeconds": 15, "failureThreshold": 3},
        "readinessProbe": readiness,
        "resources": {"requests": {"cpu": f"{pod.cpu_request_m}m", "memory": f"{pod.memory_request_mi}Mi"},
                      "limits": {"memory": f"{pod.memory_limit_mi}Mi"}},
        "securityContext": RESTRICTED_CONTAINER,
        "volumeMounts": [config_mount, *scratch_mounts],
    }
    migrate = {
        "name": "migrate",
        "image": pod.image,
        "command": ["python", "-m", "litellm.proxy.prisma_migration"],
        "workingDir": "/app",
        "env": [e for e in env if e["name"] in MIGRATE_ENV],
        "resources": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        # The one writable root filesystem: `prisma migrate` writes into the migrations and cache
        # folders the image hands to its non-root user (docker/Dockerfile.non_root chowns them for it).
        "securityContext": {**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": False},
        "volumeMounts": scratch_mounts,
    }
    pod_labels = role_labels(LITELLM, labels.ROLE_TENANT_GATEWAY)
    spec: dict[str, Any] = {
        "serviceAccountName": LITELLM,
        "automountServiceAccountToken": False,
        "securityContext": _pod_security(LITELLM_UID),
        "initContainers": [migrate],
        "containers": [container],
        "volumes": [{"name": "config", "configMap": {"name": LITELLM_CONFIG}}, *scratch_volumes],
        "terminationGracePeriodSeconds": 60,
    }
    if pod.spread:
        spec["topologySpreadConstraints"] = [
            {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": selector(LITELLM)}}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]
    replicas = {} if pod.replicas is None else {"replicas": pod.replicas}
    return {
        **replicas,
        "selector": {"matchLabels": selector(LITELLM)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {"metadata": {"labels": pod_labels, "annotations": {"llmplatform.io/config-hash": pod.config_hash}},
                     "spec": spec},
    }


LITELLM_STARTUP = {"period": 5, "failures": 60}
"""The proxy's startup probe: up to 5 minutes to import LiteLLM, connect Prisma and load the config."""
LITELLM_READINESS_PERIOD_S = 10


def litellm_rollout_timeouts(max_pods: int) -> dict[str, str]:
    """Pulumi `customTimeouts` for the proxy Deployment. Create: 20 minutes (CNPG bootstraps the database and
    the migrations run first). Update: a rolling update with maxSurge 1 and maxUnavailable 0 replaces pods
    one at a time, each allowed its startup probe and one readiness period, up to the autoscaler's max."""
    per_pod_s = LITELLM_STARTUP["period"] * LITELLM_STARTUP["failures"] + LITELLM_READINESS_PERIOD_S
    return {"create": "20m", "update": f"{max(20, -(-max_pods * per_pod_s // 60))}m"}


def litellm_service_spec() -> dict[str, Any]:
    return {"type": "ClusterIP", "selector": selector(LITELLM),
            "ports": [{"name": "http", "port": ports.LITELLM_HTTP, "targetPort": "http", "protocol": "TCP"}]}


def litellm_hpa_spec(*, min_replicas: int, max_replicas: int, cpu_target_m: int) -> dict[str, Any]:
    """autoscaling/v2 spec for the proxy: average CPU use per pod held at `cpu_target_m` (an absolute value,
    not a share of the request: see llmplatform/gateway/capacity.py). Scale-up is immediate (new pods take
    36-98 s to become ready, so waiting would only add to that); scale-down waits five minutes and removes
    one pod a minute, so a burst that ends and restarts does not bounce the pod count."""
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": LITELLM},
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "metrics": [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "AverageValue", "averageValue": f"{cpu_target_m}m"}}}],
        "behavior": {
            "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15},
                                     {"type": "Pods", "value": 4, "periodSeconds": 15}]},
            "scaleDown": {"stabilizationWindowSeconds": 300,
                          "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
        },
    }


def litellm_pdb_spec() -> dict[str, Any]:
    """At most one proxy replica is voluntarily evicted at a time (node drains, upgrades)."""
    return {"maxUnavailable": 1, "selector": {"matchLabels": selector(LITELLM)}}


def redis_config(password: str) -> str:
    """valkey.conf. Counters must never be evicted (noeviction) and the spend transaction buffer
    survives a restart (append-only file, fsync every second)."""
    return "\n".join([
        f"port {ports.REDIS}", "bind 0.0.0.0 -::*", "protected-mode yes", f"requirepass {password}",
        "dir /data", "appendonly yes", "appendfsync everysec", 'save ""',
        "maxmemory 512mb", "maxmemory-policy noeviction", "",
    ])


def redis_statefulset_spec(*, image: str = images.REDIS_IMAGE, storage_gb: int = 2) -> dict[str, Any]:
    """One Valkey instance for budget coordination; config (with requirepass) from a Secret."""
    container = {
        "name": "valkey",
        "image": image,
        "command": ["valkey-server", "/etc/valkey/valkey.conf"],
        "ports": [{"name": "redis", "containerPort": ports.REDIS, "protocol": "TCP"}],
        # valkey-cli reads the password from REDISCLI_AUTH: never on a command line.
        "env": [_secret_env("REDISCLI_AUTH", BUDGET_CACHE_AUTH, "password")],
        "readinessProbe": {"exec": {"command": ["valkey-cli", "ping"]}, "periodSeconds": 5, "timeoutSeconds": 3},
        "livenessProbe": {"tcpSocket": {"port": ports.REDIS}, "periodSeconds": 15, "failureThreshold": 4},
        "resources": {"requests": {"cpu": "100m", "memory": "640Mi"}, "limits": {"memory": "768Mi"}},
        "securityContext": RESTRICTED_CONTAINER,
        "volumeMounts": [{"name": "config", "mountPath": "/etc/valkey", "readOnly": True},
                         {"name": "data", "mountPath": "/data"}],
    }
    return {
        "serviceName": BUDGET_CACHE,
        "replicas": 1,
        "selector": {"matchLabels": selector(BUDGET_CACHE)},
        "template": {
            "metadata": {"labels": role_labels(BUDGET_CACHE, labels.ROLE_BUDGET_CACHE)},
            "spec": {
                "serviceAccountName": BUDGET_CACHE,
                "automountServiceAccountToken": False,
                "securityContext": _pod_security(BUDGET_CACHE_UID),
                "containers": [container],
                "volumes": [{"name": "config", "secret": {"secretName": BUDGET_CACHE_AUTH,
                                                          "items": [{"key": "valkey.conf", "path": "valkey.conf"}]}}],
            },
        },
        "volumeClaimTemplates": [{
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": f"{storage_gb}Gi"}}},
        }],
    }


def redis_service_spec() -> dict[str, Any]:
    """Headless: the StatefulSet's governing Service; its DNS name resolves to the one pod."""
    return {"clusterIP": "None", "selector": selector(BUDGET_CACHE),
            "ports": [{"name": "redis", "port": ports.REDIS, "targetPort": "redis", "protocol": "TCP"}]}


@dataclass(frozen=True, kw_only=True)
class BudgetDb:
    instances: int
    storage_gb: int
    backup_bucket: str | None = None
    """gs:// URL; None: no backups (dev)."""
    backup_gcp_service_account: Any = None
    """GCP service account (Workload Identity) the instances use to write to the bucket."""
    retention: str = "30d"
    image: str = images.POSTGRES_IMAGE


def cnpg_cluster_spec(db: BudgetDb) -> dict[str, Any]:
    """CNPG Cluster: database `litellm` owned by `litellm`, no superuser access over the network.

    No `bootstrap.initdb.secret`: CNPG then generates `budget-db-app` with a ready `uri` key,
    which LiteLLM reads as DATABASE_URL; a user-supplied secret would replace it without `uri`.
    Prod (>1 instance): zone anti-affinity and quorum synchronous replication with durability
    required, so an acknowledged spend write survives losing the primary.
    """
    spec: dict[str, Any] = {
        "instances": db.instances,
        "imageName": db.image,
        "enableSuperuserAccess": False,
        "bootstrap": {"initdb": {"database": "litellm", "owner": "litellm", "dataChecksums": True}},
        "storage": {"size": f"{db.storage_gb}Gi"},
        "inheritedMetadata": {"labels": role_labels(BUDGET_DB, labels.ROLE_BUDGET_DB)},
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    }
    if db.instances > 1:
        spec["affinity"] = {"enablePodAntiAffinity": True, "topologyKey": "topology.kubernetes.io/zone"}
        spec["postgresql"] = {"synchronous": {"method": "any", "number": 1, "dataDurability": "required"}}
    if db.backup_bucket:
        spec["backup"] = {
            "retentionPolicy": db.retention,
            "target": "prefer-standby",
            "barmanObjectStore": {
                "destinationPath": db.backup_bucket.rstrip("/") + f"/{BUDGET_DB}",
                "googleCredentials": {"gkeEnvironment": True},
                "wal": {"compression": "gzip"},
                "data": {"compression": "gzip"},
            },
        }
        if db.backup_gcp_service_account is not None:
            spec["serviceAccountTemplate"] = {
                "metadata": {"annotations": {"iam.gke.io/gcp-service-account": db.backup_gcp_service_account}}}
    return spec


def scheduled_backup_spec() -> dict[str, Any]:
    """A daily base backup (WAL alone cannot be restored without one), plus one right away."""
    return {"schedule": "0 30 2 * * *", "immediate": True, "backupOwnerReference": "self",
            "method": "barmanObjectStore", "cluster": {"name": BUDGET_DB}}


def cnpg_operator_values(*, replicas: int) -> dict[str, Any]:
    return {
        "fullnameOverride": "cnpg",
        "replicaCount": replicas,
        "image": {"tag": images.CNPG_OPERATOR_IMAGE_TAG},
        "crds": {"create": True},
        "monitoring": {"podMonitorEnabled": False, "grafanaDashboard": {"create": False}},
        "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}, "limits": {"memory": "400Mi"}},
    }


def reconciler_rules(secret_names: list[str]) -> list[dict[str, Any]]:
    """Secrets only: create (RBAC cannot name an object that does not exist yet), and get/update of
    the tenants' key Secrets by name. No list/watch, so no other Secret is readable."""
    return [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "update"],
             "resourceNames": sorted(secret_names)}]


def reconcile_job_spec(*, image: str, proxy_url: Any, rotate: str = "") -> dict[str, Any]:
    """Runs reconcile.py once; Pulumi waits for it to complete (a failure fails `pulumi up`)."""
    env = [_secret_env(SECRET_ENV["master_key"], LITELLM_SECRETS, SECRET_KEYS["master_key"]),
           {"name": "HOME", "value": "/tmp"}]
    if rotate:
        env.append({"name": "LLMP_ROTATE", "value": rotate})
    return {
        "backoffLimit": 4,
        "activeDeadlineSeconds": 1200,
        "template": {
            "metadata": {"labels": role_labels(RECONCILER, labels.ROLE_TENANT_RECONCILER)},
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": RECONCILER,
                "securityContext": _pod_security(LITELLM_UID),
                "containers": [{
                    "name": "reconcile",
                    "image": image,
                    "command": ["python", f"{RECONCILER_DIR}/{RECONCILE_FILE}",
                                "--desired", f"{RECONCILER_DIR}/{DESIRED_FILE}", "--proxy-url", proxy_url],
                    "env": env,
                    # A batch job off the request path: a CPU limit costs nothing here.
                    "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                                  "limits": {"cpu": "500m", "memory": "256Mi"}},
                    "securityContext": RESTRICTED_CONTAINER,
                    "volumeMounts": [{"name": "reconciler", "mountPath": RECONCILER_DIR, "readOnly": True},
                                     {"name": "tmp", "mountPath": "/tmp"}],
                }],
                "volumes": [{"name": "reconciler", "configMap": {"name": RECONCILER}},
                            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
            },
        },
    }


def key_secret_name(tenant: str) -> str:
    return naming.k8s(KEY_SECRET.format(name=tenant))
