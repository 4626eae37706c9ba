"""TenantGateway: LiteLLM as the tenants' OpenAI-compatible front door, with the budget store it enforces from.

Children: the CloudNativePG operator (pinned Helm release) and a CNPG Cluster for LiteLLM's
database (backed up on prod), an optional Valkey/Redis StatefulSet that shares spend and rate-limit
counters between replicas, the LiteLLM Deployment/Service/ServiceAccount (config.yaml rendered from
the typed stack config plus the tenant cache-salt hook, both from one ConfigMap), a
PodDisruptionBudget when there is more than one replica, and a reconcile Job that makes LiteLLM's
teams and keys match the configured tenants (keys land in `tenant-<name>-key` Secrets), and the tenant
edge (`gateway.exposure`, `llmplatform/gateway/edge.py`): an internal load balancer Service, or a GKE Gateway
with its HTTPRoute, Cloud Armor backend policy and health check, in front of LiteLLM's port only.

The SR3 profile is validated on the rendered proxy config with the same predicate the CrossGuard
pack uses (`llmplatform.controls.sr3_fail_closed.predicates`); every violation is reported at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from llmplatform import labels, naming, ports
from llmplatform.config.model import ModelSpec, TenantGatewaySpec, TenantSpec
from llmplatform.controls.tiers import ControlPlan
from llmplatform.config.model import ExposureMode
from llmplatform.gateway import db_ready, edge, images, reconcile, tenants, workloads
from llmplatform.gateway.capacity import GatewayCapacity, Measured, capacity_problems, gateway_load, size_gateway
from llmplatform.gateway.hooks import hook_source
from llmplatform.gateway.litellm_config import CONFIG_FILE, HOOK_MODULE, budget_facts, render_proxy_config
from llmplatform.controls.sr3_fail_closed.predicates import sr3_violations
from llmplatform.predicates.models import unknown_model_problems
from llmplatform.problems import Problem, raise_problems

TYPE = "llmplatform:tenant_gateway:TenantGateway"

_PLACEHOLDER_URL = "http://validation.invalid"


@dataclass(frozen=True, kw_only=True)
class TenantGatewayArgs:
    """Shape inputs (models, tenants, the gateway spec, the profile) are plain values; URLs,
    namespaces and credentials are `pulumi.Input`s."""

    models: tuple[ModelSpec, ...]
    tenants: tuple[TenantSpec, ...]
    gateway: TenantGatewaySpec
    """Replicas, Redis, Postgres instances/storage, backup bucket and key-cache TTL."""
    control_plan: ControlPlan
    """Its SR3 decision: fail closed (prod) refuses requests while Postgres is down, enforces budgets
    fail-closed, probes the database for readiness, and requires backups and >= 2 replicas. Its
    prefix-cache mode is what the cache-salt hook does (`tenant-salted` isolates tenants' entries)."""
    gateway_url: pulumi.Input[str]
    """Base URL of the inference gateway (no `/v1`), from ServingStack."""
    model_api_key: pulumi.Input[str]
    """The key the model servers require (secret); LiteLLM is the only client that holds it."""
    namespace: pulumi.Input[str] = naming.NS_TENANT_GATEWAY
    """Where LiteLLM, its database, Redis and the reconciler run; pass the Namespace's name Output
    so every child waits for the namespace."""
    operator_namespace: pulumi.Input[str] = naming.NS_CNPG
    served_names: Mapping[str, str] | None = None
    """Model name -> served name; None: each model's `served_name`."""
    model_headers: Mapping[str, Mapping[str, str]] | None = None
    """Model name -> extra headers on calls to that model (header-routed serving layers)."""
    key_namespaces: Mapping[str, pulumi.Input[str]] | None = None
    """Tenant -> namespace of its key Secret (its own namespace on the untrusted tier); others get `namespace`."""
    backup_gcp_service_account: pulumi.Input[str] | None = None
    """GCP service account email the database pods impersonate (Workload Identity) to write backups;
    None: the pods' own identity must already be allowed on the bucket."""
    key_rotation: str = ""
    """Opaque epoch: changing it re-runs the reconciler and rotates every tenant key once."""
    litellm_image: str = images.LITELLM_IMAGE
    install_operator: bool = True
    """False: the CNPG operator is installed elsewhere (its CRDs must exist before this component)."""
    edge_gcp: edge.EdgeGcp | None = None
    """`gateway.exposure.mode: public` only (required then): the Cloud Armor policy and certificate map the
    substrate created, which the edge's GCPBackendPolicy and Gateway name (`substrates/gke/tenant_edge.py`)."""


SR3_ARGS: dict[str, str] = {
    "allow_requests_on_db_unavailable": "control_plan.fail_closed",
    "fail_closed_budget_enforcement": "control_plan.fail_closed",
    "postgres_instances": "gateway.postgres_instances",
    "key_cache_ttl_seconds": "gateway.key_cache_ttl_seconds",
    "redis_wired": "gateway.redis",
}
"""`BudgetFacts` field (the path of an SR3 problem) -> the argument that sets it."""


def validate(args: TenantGatewayArgs, config: Mapping[str, Any]) -> list[Problem]:
    """Every problem with `args`, judged on the proxy config they render to (empty: deployable)."""
    gw, fail_closed = args.gateway, args.control_plan.fail_closed
    out: list[Problem] = []
    facts = budget_facts(config, postgres_instances=gw.postgres_instances,
                         gateway_replicas=max(gw.replicas, gw.max_replicas or 0))
    for problem in sr3_violations(facts, fail_closed_required=fail_closed):
        out.append(replace(problem, path=SR3_ARGS[problem.path], reason=f"SR3: {problem.reason}"))
    if fail_closed and not gw.backup_bucket:
        out.append(Problem("gateway.backup_bucket", None, "required when the plan fails closed (SR3): the budget "
                           "database holds every tenant's spend and needs backups", missing=True))
    if fail_closed and gw.replicas < 2:
        out.append(Problem("gateway.replicas", gw.replicas, "fail_closed (prod) needs >= 2 LiteLLM replicas so a "
                           "node drain or a crash does not stop every tenant"))
    out += capacity_problems(gateway_load(gw, args.tenants), Measured.load(), key="gateway")
    if gw.backup_bucket and not gw.backup_bucket.startswith("gs://"):
        out.append(Problem("gateway.backup_bucket", gw.backup_bucket, "must be a gs:// URL"))
    out += unknown_model_problems([(t.name, t.allowed_models) for t in args.tenants], [m.name for m in args.models])
    if gw.exposure.mode == ExposureMode.PUBLIC and args.edge_gcp is None:
        out.append(Problem("edge_gcp", None, "required with gateway.exposure.mode public: the Cloud Armor policy "
                           "(client allow-list) and certificate map the substrate created", missing=True))
    stray = sorted(set(args.key_namespaces or {}) - {t.name for t in args.tenants})
    if stray:
        out.append(Problem("key_namespaces", stray, "must name configured tenants only"))
    return out


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]


class TenantGateway(pulumi.ComponentResource):
    """LiteLLM plus its budget store and tenant provisioning; see the module docstring."""

    service_url: pulumi.Output[str]
    """In-cluster base URL of LiteLLM (`http://litellm.<ns>.svc.cluster.local:4000`); clients add `/v1`."""
    client_url: pulumi.Output[str | None]
    """Base URL tenants' clients use (`edge.client_base_url`): the in-cluster URL on `cluster`, `https://<hostname>`
    on `public`, `http://<hostname or the internal load balancer's address>:4000` on `internal`."""
    service_account_name: str
    """The ServiceAccount LiteLLM pods run as; the governance layer ties the tenant-gateway role label to it."""
    master_key: pulumi.Output[str]
    """Secret. LiteLLM's admin key (`sk-...`); only the reconciler Job uses it in-cluster."""
    deployment: k8s.apps.v1.Deployment
    """Escape hatch: the LiteLLM Deployment."""
    capacity: GatewayCapacity
    """Pods, workers, CPU and memory derived from the tenants' load (llmplatform/gateway/capacity.py)."""

    def __init__(self, name: str, args: TenantGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        gw = args.gateway
        served = dict(args.served_names or {m.name: m.served_name for m in args.models})
        self.capacity = size_gateway(gateway_load(gw, args.tenants), Measured.load())
        headers = args.model_headers

        fail_closed = args.control_plan.fail_closed

        def render(url: str) -> dict[str, Any]:
            return render_proxy_config(models=args.models, gateway=gw, fail_closed=fail_closed,
                                       gateway_url=url, served_names=served, extra_headers=headers)

        missing = [m.name for m in args.models if m.name not in served]
        if missing:
            raise_problems(f"TenantGateway {name!r}", [Problem("served_names", sorted(served),
                                                                f"has no entry for {', '.join(missing)}")])
        raise_problems(f"TenantGateway {name!r}", validate(args, render(_PLACEHOLDER_URL)))

        child = pulumi.ResourceOptions(parent=self)
        ns = args.namespace
        std = labels.standard

        def meta(obj_name: str, component: str, namespace: pulumi.Input[str] = ns) -> dict[str, Any]:
            return {"name": obj_name, "namespace": namespace, "labels": std(component, "tenant-gateway")}

        # --- budget database (CloudNativePG) ---
        db_deps: list[pulumi.Resource] = []
        if args.install_operator:
            db_deps.append(k8s.helm.v3.Release(
                f"{name}-cnpg-operator",
                name=naming.helm_release("cnpg"),
                chart=images.CNPG_CHART,
                version=images.CNPG_CHART_VERSION,
                repository_opts={"repo": images.CNPG_CHART_REPO},
                namespace=args.operator_namespace,
                values=workloads.cnpg_operator_values(replicas=2 if fail_closed else 1),
                opts=child,
            ))
        db = workloads.BudgetDb(instances=gw.postgres_instances, storage_gb=gw.postgres_storage_gb,
                                backup_bucket=gw.backup_bucket, backup_gcp_service_account=args.backup_gcp_service_account)
        db_opts = pulumi.ResourceOptions(parent=self, depends_on=db_deps)
        database = k8s.apiextensions.CustomResource(
            f"{name}-db", api_version="postgresql.cnpg.io/v1", kind="Cluster",
            metadata=meta(workloads.BUDGET_DB, workloads.BUDGET_DB), spec=workloads.cnpg_cluster_spec(db), opts=db_opts)
        if gw.backup_bucket:
            k8s.apiextensions.CustomResource(
                f"{name}-db-backup", api_version="postgresql.cnpg.io/v1", kind="ScheduledBackup",
                metadata=meta(workloads.BUDGET_DB, workloads.BUDGET_DB), spec=workloads.scheduled_backup_spec(),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[database]))

        # --- budget cache (Redis protocol; shared counters across replicas) ---
        deps: list[pulumi.Resource] = [database]
        if gw.redis:
            cache_password = random.RandomPassword(f"{name}-cache-password", length=40, special=False, opts=child)
            cache_secret = k8s.core.v1.Secret(
                f"{name}-cache-auth", metadata=meta(workloads.BUDGET_CACHE_AUTH, workloads.BUDGET_CACHE),
                type="Opaque",
                string_data={"password": pulumi.Output.secret(cache_password.result),
                             "valkey.conf": pulumi.Output.secret(cache_password.result).apply(workloads.redis_config)},
                opts=child)
            cache_service = k8s.core.v1.Service(
                f"{name}-cache", metadata=meta(workloads.BUDGET_CACHE, workloads.BUDGET_CACHE),
                spec=workloads.redis_service_spec(), opts=child)
            # Its own account, never `default` (control no-default-service-account); it calls no API.
            cache_account = k8s.core.v1.ServiceAccount(
                f"{name}-cache-sa", metadata=meta(workloads.BUDGET_CACHE, workloads.BUDGET_CACHE),
                automount_service_account_token=False, opts=child)
            deps.append(k8s.apps.v1.StatefulSet(
                f"{name}-cache-set", metadata={**meta(workloads.BUDGET_CACHE, workloads.BUDGET_CACHE),
                                               "annotations": workloads.BUDGET_CACHE_ANNOTATIONS},
                spec=workloads.redis_statefulset_spec(),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[cache_secret, cache_service, cache_account])))

        # --- LiteLLM secrets, config and workload ---
        master = random.RandomPassword(f"{name}-master-key", length=48, special=False, opts=child)
        salt = random.RandomPassword(f"{name}-salt-key", length=48, special=False, opts=child)
        cache_salt = random.RandomPassword(f"{name}-cache-salt-key", length=64, special=False, opts=child)
        self.master_key = pulumi.Output.secret(pulumi.Output.concat("sk-", master.result))
        secrets = k8s.core.v1.Secret(
            f"{name}-secrets", metadata=meta(workloads.LITELLM_SECRETS, workloads.LITELLM), type="Opaque",
            string_data={
                workloads.SECRET_KEYS["master_key"]: self.master_key,
                # Encrypts credentials LiteLLM stores in Postgres; separate from the master key so
                # rotating the master key does not strand them.
                workloads.SECRET_KEYS["salt_key"]: pulumi.Output.secret(pulumi.Output.concat("sk-", salt.result)),
                workloads.SECRET_KEYS["cache_salt_key"]: pulumi.Output.secret(cache_salt.result),
                workloads.SECRET_KEYS["vllm_api_key"]: pulumi.Output.secret(args.model_api_key),
            },
            opts=child)
        deps.append(secrets)
        self.service_account_name = workloads.LITELLM
        deps.append(k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=meta(workloads.LITELLM, workloads.LITELLM),
            automount_service_account_token=False, opts=child))

        hook, probe = hook_source(HOOK_MODULE), _source(db_ready)
        config_yaml = pulumi.Output.from_input(args.gateway_url).apply(
            lambda url: yaml.safe_dump(render(url), sort_keys=False, width=120))
        deps.append(k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=meta(workloads.LITELLM_CONFIG, workloads.LITELLM),
            data={CONFIG_FILE: config_yaml, f"{HOOK_MODULE}.py": hook, workloads.DB_READY_FILE: probe},
            opts=child))
        cap = self.capacity
        pod = workloads.LitellmPod(
            image=args.litellm_image, replicas=None if cap.autoscaled else cap.min_replicas,
            cpu_request_m=cap.cpu_request_m, memory_request_mi=cap.memory_request_mi,
            memory_limit_mi=cap.memory_limit_mi, fail_closed=fail_closed, redis=gw.redis,
            redis_host=pulumi.Output.from_input(ns).apply(workloads.redis_host),
            prefix_cache_mode=args.control_plan.prefix_cache_mode.value, config_hash="",
            spread=cap.max_replicas > 1)
        spec = workloads.litellm_deployment_spec(pod)
        spec["template"]["metadata"]["annotations"]["llmplatform.io/config-hash"] = config_yaml.apply(
            lambda text: _hash(text, hook, probe))
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-proxy", metadata={**meta(workloads.LITELLM, workloads.LITELLM),
                                       "annotations": workloads.LITELLM_ANNOTATIONS}, spec=spec,
            # First rollout waits for CNPG to bootstrap the database and the migrations to run.
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps,
                                        custom_timeouts=pulumi.CustomTimeouts(
                                            **workloads.litellm_rollout_timeouts(cap.max_replicas))))
        service = k8s.core.v1.Service(
            f"{name}-service", metadata=meta(workloads.LITELLM, workloads.LITELLM),
            spec=workloads.litellm_service_spec(), opts=child)
        if cap.autoscaled:
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa", metadata=meta(workloads.LITELLM, workloads.LITELLM),
                spec=workloads.litellm_hpa_spec(min_replicas=cap.min_replicas, max_replicas=cap.max_replicas,
                                                cpu_target_m=cap.hpa_cpu_target_m),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployment]))
        if cap.min_replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb", metadata=meta(workloads.LITELLM, workloads.LITELLM),
                spec=workloads.litellm_pdb_spec(), opts=child)
        self.service_url = pulumi.Output.from_input(ns).apply(workloads.service_url)
        self.client_url = self._edge(name, args, after=[service])

        self._reconciler(name, args, served, [self.deployment, service])
        self.register_outputs({"serviceUrl": self.service_url, "clientUrl": self.client_url,
                               "serviceAccountName": self.service_account_name,
                               "capacity": self.capacity.summary()})

    def _edge(self, name: str, args: TenantGatewayArgs, after: list[pulumi.Resource]) -> pulumi.Output[str | None]:
        """The tenant edge (`llmplatform/gateway/edge.py`): what clients outside the cluster connect to."""
        exposure = args.gateway.exposure
        opts = pulumi.ResourceOptions(parent=self, depends_on=after)
        created: dict[str, pulumi.Resource] = {}
        for role, obj in edge.edge_objects(exposure, args.namespace, args.edge_gcp):
            if obj["kind"] == "Service":
                created[role] = k8s.core.v1.Service(f"{name}-{role}", metadata=obj["metadata"], spec=obj["spec"],
                                                    opts=opts)
            else:
                created[role] = k8s.apiextensions.CustomResource(
                    f"{name}-{role}", api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"],
                    spec=obj["spec"], opts=opts)
        match exposure.mode:
            case ExposureMode.PUBLIC:
                return pulumi.Output.from_input(f"https://{exposure.hostname}")
            case ExposureMode.INTERNAL if exposure.hostname:
                return pulumi.Output.from_input(f"http://{exposure.hostname}:{ports.LITELLM_HTTP}")
            case ExposureMode.INTERNAL:
                service = created["edge-service"]
                assert isinstance(service, k8s.core.v1.Service)
                return service.status.apply(_load_balancer_url)
        return self.service_url

    def _reconciler(self, name: str, args: TenantGatewayArgs, served: dict[str, str],
                    after: list[pulumi.Resource]) -> None:
        """ServiceAccount, Secret-only RBAC per key namespace, the desired-state ConfigMap and the Job."""
        child = pulumi.ResourceOptions(parent=self)
        ns = args.namespace
        own = dict(args.key_namespaces or {})

        def meta(obj_name: pulumi.Input[str], namespace: pulumi.Input[str] = ns) -> dict[str, Any]:
            return {"name": obj_name, "namespace": namespace,
                    "labels": labels.standard(workloads.RECONCILER, "tenant-gateway")}

        sa = k8s.core.v1.ServiceAccount(f"{name}-reconciler-sa", metadata=meta(workloads.RECONCILER), opts=child)
        subject = [{"kind": "ServiceAccount", "name": workloads.RECONCILER, "namespace": ns}]
        # One Role per namespace that receives key Secrets: the gateway's own, and each tenant namespace.
        scopes: dict[str, tuple[pulumi.Input[str], list[str]]] = {}
        shared = [t.name for t in args.tenants if t.name not in own]
        if shared:
            scopes["reconciler"] = (ns, shared)
        for tenant in sorted(own):
            scopes[f"reconciler-{tenant}"] = (own[tenant], [tenant])
        rbac: list[pulumi.Resource] = [sa]
        for role, (namespace, names) in scopes.items():
            rbac.append(k8s.rbac.v1.Role(
                f"{name}-{role}-role", metadata=meta(workloads.RECONCILER, namespace),
                rules=workloads.reconciler_rules([workloads.key_secret_name(t) for t in names]), opts=child))
            rbac.append(k8s.rbac.v1.RoleBinding(
                f"{name}-{role}-binding", metadata=meta(workloads.RECONCILER, namespace), subjects=subject,
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": workloads.RECONCILER},
                opts=child))

        names = sorted(own)
        desired_text = pulumi.Output.all(ns, *[own[t] for t in names]).apply(
            lambda resolved: tenants.desired_json(tenants.desired_state(
                args.tenants, args.models, served_names=served, key_namespaces=dict(zip(names, resolved[1:])),
                default_key_namespace=resolved[0], rotation=args.key_rotation)))
        script = _source(reconcile)
        config = k8s.core.v1.ConfigMap(
            f"{name}-reconciler-config", metadata=meta(workloads.RECONCILER),
            data={workloads.RECONCILE_FILE: script, workloads.DESIRED_FILE: desired_text}, opts=child)
        job_name = desired_text.apply(lambda text: naming.k8s(f"tenant-reconcile-{_hash(text, script)}"))
        k8s.batch.v1.Job(
            f"{name}-reconcile", metadata={**meta(job_name), "annotations": workloads.RECONCILER_ANNOTATIONS},
            spec=workloads.reconcile_job_spec(image=args.litellm_image, proxy_url=self.service_url),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, config, *rbac],
                                        custom_timeouts=pulumi.CustomTimeouts(create="20m")))


def _load_balancer_url(status: Any) -> str | None:
    """`http://<address>:4000` once GKE assigned the internal load balancer's address; None before."""
    ingress = ((status or {}).get("load_balancer") or {}).get("ingress") if isinstance(status, dict) else (
        getattr(getattr(status, "load_balancer", None), "ingress", None))
    first = (ingress or [None])[0]
    ip = (first.get("ip") if isinstance(first, dict) else getattr(first, "ip", None)) if first else None
    return f"http://{ip}:{ports.LITELLM_HTTP}" if ip else None


def _source(module: Any) -> str:
    """The text of a standalone script module, mounted into pods exactly as it is in this repo."""
    with open(module.__file__, encoding="utf-8") as fh:
        return fh.read()
