"""ServingStack: vLLM per model, Kueue GPU quota, KEDA on leading signals, inference-aware routing.

The substrate-agnostic serving layer both GKE and Vast render. Per configured model: a vLLM
Deployment + headless Service (+ PodDisruptionBudget when min_replicas > 1), an InferencePool with
its endpoint picker (Deployment, Service, RBAC, ConfigMap), a KEDA ScaledObject and an HTTPRoute.
Once: the Kueue, KEDA, Prometheus and Istio releases, the GPU ResourceFlavors, ClusterQueues and
LocalQueues, the inference Gateway, and the model-server API key. The specs are pure functions in
`llmplatform/serving/`; this class only wraps them in resources. See docs/serving.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.platform_namespaces import PlatformNamespaces
from llmplatform import labels, naming
from llmplatform.config import ModelSpec, Observability, TenantSpec
from llmplatform.controls.tiers import ControlPlan
from llmplatform.observability import rules
from llmplatform.serving import autoscaling, charts, images, kueue, names, routing, vllm
from llmplatform.problems import Problem, raise_problems
from llmplatform.serving.charts import ChartPin
from substrates.capabilities import SubstrateCapabilities

TYPE = "llmplatform:serving_stack:ServingStack"


@dataclass(frozen=True, kw_only=True)
class ServingStackArgs:
    """Shape inputs (models, tenants, capabilities, knobs) are plain; the HF token is an Input."""

    models: tuple[ModelSpec, ...]
    """One Deployment/Service/InferencePool/EPP/ScaledObject/HTTPRoute each; at least one."""
    tenants: tuple[TenantSpec, ...]
    """`gpu_quota` becomes the nominal quota of `tenant-<name>` ClusterQueues for tenants that have a
    namespace in `namespaces.tenants` (the untrusted tier); others get no queue of their own."""
    capabilities: SubstrateCapabilities
    """GPU resource name, product label, taint, RuntimeClass and memory fraction of the cluster."""
    gpu_capacity: int
    """GPU units the pool holds at max_nodes (`GpuPoolSpec.capacity`); caps the serving queue's quota."""
    namespaces: PlatformNamespaces
    """Objects land in its namespaces and wait for them; tenant namespaces get a LocalQueue `gpu`."""
    control_plan: ControlPlan
    """Its prefix-cache mode decides vLLM's prefix caching (`off` renders `--no-enable-prefix-caching`,
    every other mode `--enable-prefix-caching`); its high availability (prod) gives the Kueue and KEDA
    controllers, whose webhooks every serving pod creation and scale passes through, two replicas and PDBs."""
    observability: Observability = Observability()
    """Alert thresholds and Prometheus' history; the rules go to the Prometheus release's rule files. Where
    the control plan is highly available (prod) history is kept on a PersistentVolume."""
    budget_db_instances: int = 1
    """CloudNativePG instances of the budget database (`tenant_gateway.postgres_instances`): what
    BudgetDatabaseNotReady counts against."""
    budget_cache: bool = False
    """True: the budget cache runs (`tenant_gateway.redis`), so BudgetCacheDown is rendered."""
    hf_token: pulumi.Input[str] | None = None
    """Hugging Face token for gated weights (secret). None: no Secret; the download runs anonymously."""
    route_timeout_seconds: int = 600
    """HTTPRoute request timeout: longest generation (streamed or not) the gateway lets run."""
    cpu_per_gpu: int = 4
    """CPU cores requested per GPU of a replica (tokenization, scheduling, detokenization)."""
    memory_gib_per_gpu: int = 24
    """Memory (GiB, request = limit) per GPU of a replica; weights pass through host memory on load."""
    weights_volume_gib: int = 100
    """Size limit of the emptyDir the init container downloads weights into (node boot disk)."""


def validate(args: ServingStackArgs) -> list[Problem]:
    """Every problem with `args` (empty: renderable)."""
    out: list[Problem] = []
    caps = args.capabilities
    if not args.models:
        out.append(Problem("models", (), "configure at least one model"))
    for field in ("name", "served_name"):
        seen = [getattr(m, field) for m in args.models]
        for dup in sorted({v for v in seen if seen.count(v) > 1}):
            out.append(Problem(f"models.{field}", dup, "appears more than once; each model needs its own"))
    for m in args.models:
        if m.gpus_per_replica > caps.gpus_per_node:
            out.append(Problem(f"models[{m.name}].gpus_per_replica", m.gpus_per_replica,
                               f"a {caps.display_name} GPU node has {caps.gpus_per_node}, and one replica must fit "
                               "on one node"))
    if not caps.gpu_product_label_values:
        out.append(Problem("capabilities.gpu_product_label_values", (), "must not be empty: serving pods and Kueue "
                           "flavors select GPU nodes by it"))
    if args.gpu_capacity < 1:
        out.append(Problem("gpu_capacity", args.gpu_capacity, "must be at least 1"))
    stray = sorted(set(args.namespaces.tenants) - {t.name for t in args.tenants})
    if stray:
        out.append(Problem("namespaces.tenants", stray, "has namespaces for unknown tenant(s)",
                           fix="PlatformNamespaces with the same tenants"))
    if args.route_timeout_seconds < 1:
        out.append(Problem("route_timeout_seconds", args.route_timeout_seconds, "must be at least 1"))
    return out


class ServingStack(pulumi.ComponentResource):
    """The serving layer; the tenant gateway reaches models only through `gateway_url`."""

    gateway_url: pulumi.Output[str]
    """In-cluster base URL of the inference gateway (no `/v1`); resolves once the Gateway exists."""
    model_api_key: pulumi.Output[str]
    """Secret key every model server requires; give it only to the tenant gateway."""
    served_names: dict[str, str]
    """Model name -> the `model` value clients send (also the routing key)."""
    model_headers: dict[str, dict[str, str]]
    """Model name -> headers the tenant gateway must send to that model (`X-Gateway-Model-Name`)."""
    queue_name: str
    """LocalQueue name GPU workloads label with `kueue.x-k8s.io/queue-name`, in each managed namespace."""
    deployments: dict[str, k8s.apps.v1.Deployment]
    """Escape hatch: model name -> vLLM Deployment."""

    def __init__(self, name: str, args: ServingStackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        raise_problems(f"ServingStack {name!r}", validate(args))
        caps, ns = args.capabilities, args.namespaces
        serving_ns, gateway_ns = ns.serving.metadata.name, ns.gateway.metadata.name
        tenant_ns = {t: naming.tenant_namespace(t) for t in sorted(ns.tenants)}

        def child(*deps: pulumi.Resource | None, **kw: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=[d for d in deps if d is not None], **kw)

        # --- secrets -------------------------------------------------------------------------
        key = random.RandomPassword(f"{name}-api-key", length=48, special=False, opts=child())
        self.model_api_key = pulumi.Output.secret(key.result)
        key_secret = k8s.core.v1.Secret(
            f"{name}-api-key-secret",
            metadata={"name": names.API_KEY_SECRET, "namespace": serving_ns,
                      "labels": labels.standard("vllm", vllm.COMPONENT)},
            type="Opaque", string_data={names.API_KEY_SECRET_KEY: self.model_api_key}, opts=child())
        hf_secret = None
        if args.hf_token is not None:
            hf_secret = k8s.core.v1.Secret(
                f"{name}-hf-token",
                metadata={"name": names.HF_TOKEN_SECRET, "namespace": serving_ns,
                          "labels": labels.standard("vllm", vllm.COMPONENT)},
                type="Opaque",
                string_data={names.HF_TOKEN_SECRET_KEY: pulumi.Output.secret(args.hf_token)}, opts=child())
        vllm_sa = k8s.core.v1.ServiceAccount(
            f"{name}-vllm-sa", metadata={"name": names.VLLM_SERVICE_ACCOUNT, "namespace": serving_ns,
                                         "labels": labels.standard("vllm", vllm.COMPONENT)},
            automount_service_account_token=False, opts=child())

        # --- controllers ---------------------------------------------------------------------
        def release(role: str, pin: ChartPin, namespace: pulumi.Input[str], values: dict[str, Any],
                    *deps: pulumi.Resource) -> k8s.helm.v3.Release:
            repo = k8s.helm.v3.RepositoryOptsArgs(repo=pin.repo) if pin.repo else None
            return k8s.helm.v3.Release(
                f"{name}-{role}", name=pin.release, chart=pin.chart, version=pin.version, repository_opts=repo,
                namespace=namespace, values=values, atomic=True, cleanup_on_fail=True, timeout=600,
                opts=child(*deps))

        managed = list(kueue.managed_namespaces(tenant_ns.values()))
        kueue_rel = release("kueue", charts.KUEUE, ns.platform[naming.NS_KUEUE].metadata.name,
                            charts.kueue_values(managed, ha=args.control_plan.high_availability))
        keda_rel = release("keda", charts.KEDA, ns.platform[naming.NS_KEDA].metadata.name,
                           charts.keda_values(naming.NS_SERVING, ha=args.control_plan.high_availability))
        rule_inputs = rules.RuleInputs(
            models=args.models, observability=args.observability, serving_namespace=naming.NS_SERVING,
            tenant_gateway_namespace=naming.NS_TENANT_GATEWAY, budget_db_instances=args.budget_db_instances,
            budget_cache=args.budget_cache, fail_closed=args.control_plan.fail_closed,
            scraped_jobs=charts.scraped_jobs(naming.NS_SERVING, naming.NS_GATEWAY))
        obs = args.observability
        history = charts.PrometheusHistory(obs.retention_days, obs.storage_gib) \
            if args.control_plan.high_availability else None
        release("prometheus", charts.PROMETHEUS, ns.platform[naming.NS_MONITORING].metadata.name,
                charts.prometheus_values(naming.NS_SERVING, naming.NS_GATEWAY,
                                         alerting_rules=rules.alerting_rules(rule_inputs),
                                         recording_rules=rules.recording_rules(rule_inputs), history=history))
        istio_ns = k8s.core.v1.Namespace(
            f"{name}-istio-ns", metadata={"name": names.ISTIO_NAMESPACE, "labels": {
                labels.NAMESPACE_TIER: labels.NS_TIER_PLATFORM, labels.PART_OF: "llm-platform",
                "pod-security.kubernetes.io/enforce": "baseline"}}, opts=child())
        istio_base = release("istio-base", charts.ISTIO_BASE, istio_ns.metadata.name, charts.istio_base_values())
        istiod = release("istiod", charts.ISTIOD, istio_ns.metadata.name, charts.istiod_values(), istio_base)
        crds = None
        # The bundle creates InferencePool v1 (and the alpha kinds the EPP watches only if present); where the
        # substrate owns InferencePool (GKE >= 1.34) applying it would fail with AlreadyExists.
        if images.GIE_INFERENCE_POOL_CRD not in caps.managed_crds:
            crds = k8s.yaml.v2.ConfigFile(f"{name}-inference-crds", file=images.GIE_CRDS_URL, opts=child())

        # --- Kueue: flavors, cluster queues, local queues ------------------------------------
        def custom(logical: str, obj: dict[str, Any],
                   *deps: pulumi.Resource | None) -> k8s.apiextensions.CustomResource:
            extra = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
            return k8s.apiextensions.CustomResource(logical, api_version=obj["apiVersion"], kind=obj["kind"],
                                                    metadata=obj["metadata"], opts=child(*deps), **extra)

        flavors = [names.flavor(v) for v in caps.gpu_product_label_values]
        for value in caps.gpu_product_label_values:
            custom(f"{name}-flavor-{names.flavor(value)}",
                   kueue.resource_flavor(caps.gpu_product_label_key, value, caps.gpu_taint), kueue_rel)
        queues = kueue.cluster_queues(
            args.models, {t.name: t.gpu_quota for t in args.tenants}, serving_namespace=naming.NS_SERVING,
            tenant_namespaces=tenant_ns, gpu_resource=caps.gpu_resource_name, flavors=flavors,
            capacity=args.gpu_capacity)
        for queue_name, obj in queues.items():
            custom(f"{name}-cq-{queue_name}", obj, kueue_rel)
        serving_lq = custom(f"{name}-lq-serving", kueue.local_queue(serving_ns, names.SERVING_CLUSTER_QUEUE),
                            kueue_rel)
        for tenant in tenant_ns:
            custom(f"{name}-lq-tenant-{tenant}", kueue.local_queue(ns.tenants[tenant].metadata.name,
                                                                   names.tenant_cluster_queue(tenant)), kueue_rel)
        self.queue_name = names.LOCAL_QUEUE

        # --- the inference gateway -------------------------------------------------------------
        gateway = custom(f"{name}-gateway", routing.gateway(gateway_ns), istiod)
        custom(f"{name}-route-grant", routing.reference_grant(serving_ns, naming.NS_GATEWAY))

        # --- per model -------------------------------------------------------------------------
        self.deployments = {}
        for m in args.models:
            self.deployments[m.name] = self._model(
                name, m, args, serving_ns, gateway_ns, child, custom,
                server_deps=(kueue_rel, serving_lq, key_secret, hf_secret, vllm_sa),
                pool_deps=(crds,), scaler_deps=(keda_rel,), admission_deps=(kueue_rel,))

        self.served_names = {m.name: m.served_name for m in args.models}
        self.model_headers = {m.name: routing.model_headers(m) for m in args.models}
        url = names.service_url(names.GATEWAY_SERVICE, naming.NS_GATEWAY, 80)
        self.gateway_url = gateway.urn.apply(lambda _: url)
        self.register_outputs({
            "gatewayUrl": self.gateway_url,
            "modelApiKey": self.model_api_key,
            "servedNames": self.served_names,
            "queueName": self.queue_name,
        })

    def _model(self, name: str, m: ModelSpec, args: ServingStackArgs, serving_ns: pulumi.Input[str],
               gateway_ns: pulumi.Input[str], child: Any, custom: Any, *,
               server_deps: Sequence[pulumi.Resource | None], pool_deps: Sequence[pulumi.Resource | None],
               scaler_deps: Sequence[pulumi.Resource | None],
               admission_deps: Sequence[pulumi.Resource | None]) -> k8s.apps.v1.Deployment:
        """One model's resources; logical names `<name>-<model>-<role>`."""
        base = f"{name}-{m.name}"
        d = vllm.deployment(m, args.capabilities, serving_ns, queue=names.LOCAL_QUEUE,
                            prefix_caching=args.control_plan.prefix_caching, cpu_per_gpu=args.cpu_per_gpu,
                            memory_gib_per_gpu=args.memory_gib_per_gpu, weights_volume_gib=args.weights_volume_gib)
        # KEDA owns spec.replicas after creation; the rendered value is only the starting point.
        # Pulumi waits for the rollout; its 10-minute default is shorter than one model server's start.
        deployment = k8s.apps.v1.Deployment(
            f"{base}-vllm", metadata=d["metadata"], spec=d["spec"],
            opts=child(*server_deps, ignore_changes=["spec.replicas"],
                       custom_timeouts=pulumi.CustomTimeouts(**vllm.rollout_timeouts(m))))
        s = vllm.service(m, serving_ns)
        k8s.core.v1.Service(f"{base}-vllm-svc", metadata=s["metadata"], spec=s["spec"], opts=child())
        pdb = vllm.disruption_budget(m, serving_ns)
        if pdb is not None:
            k8s.policy.v1.PodDisruptionBudget(f"{base}-pdb", metadata=pdb["metadata"], spec=pdb["spec"],
                                              opts=child(deployment))

        cm = routing.epp_config_map(m, serving_ns)
        config = k8s.core.v1.ConfigMap(f"{base}-epp-config", metadata=cm["metadata"], data=cm["data"], opts=child())
        sa = k8s.core.v1.ServiceAccount(f"{base}-epp-sa", metadata={
            "name": names.epp(m.name), "namespace": serving_ns, "labels": routing.epp_labels(m)}, opts=child())
        r = routing.epp_role(m, serving_ns)
        role = k8s.rbac.v1.Role(f"{base}-epp-role", metadata=r["metadata"], rules=r["rules"], opts=child())
        rb = routing.epp_role_binding(m, serving_ns, naming.NS_SERVING)
        binding = k8s.rbac.v1.RoleBinding(f"{base}-epp-binding", metadata=rb["metadata"], role_ref=rb["roleRef"],
                                          subjects=rb["subjects"], opts=child(role, sa))
        e = routing.epp_deployment(m, serving_ns, naming.NS_SERVING)
        # Kueue's Deployment webhooks (failurePolicy Fail) intercept every Deployment in its managed
        # namespaces, this one included: it is created only once the Kueue release serves them.
        k8s.apps.v1.Deployment(f"{base}-epp", metadata=e["metadata"], spec=e["spec"],
                               opts=child(config, binding, *pool_deps, *admission_deps))
        es = routing.epp_service(m, serving_ns)
        k8s.core.v1.Service(f"{base}-epp-svc", metadata=es["metadata"], spec=es["spec"], opts=child())
        pool = custom(f"{base}-pool", routing.inference_pool(m, serving_ns), *pool_deps)
        custom(f"{base}-scaler", autoscaling.scaled_object(m, serving_ns, naming.NS_SERVING, naming.NS_MONITORING),
               deployment, *scaler_deps)
        custom(f"{base}-route", routing.http_route(m, gateway_ns, naming.NS_SERVING,
                                                   timeout_seconds=args.route_timeout_seconds), pool)
        return deployment
