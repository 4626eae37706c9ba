"""llm-platform: the Pulumi program. Config is read here, once; everything else receives typed values.

Run it with the Pulumi CLI (`pulumi up`, `pulumi preview --policy-pack policy/`) or offline with
`llmp plan <stack>`, which executes this same file under the Pulumi SDK's mocks.
"""

import pulumi

from components.governance_pack import GovernancePack, GovernancePackArgs
from components.platform_namespaces import PlatformNamespaces, PlatformNamespacesArgs
from components.serving_stack import ServingStack, ServingStackArgs
from components.tenant_gateway import TenantGateway, TenantGatewayArgs
from llmplatform import naming
from llmplatform.config.pulumi_source import read_platform_config, read_secret
from llmplatform.controls.exemptions import sr2_exempt_namespaces
from llmplatform.controls.tiers import plan_controls
from llmplatform.gateway.edge import as_json as edge_as_json
from llmplatform.gateway.edge import source_ranges as edge_source_ranges
from llmplatform.gateway.workloads import BUDGET_DB
from llmplatform.serving.control_plane import control_plane_ports
from substrates.build import build_substrate

cfg = read_platform_config()
stack = pulumi.get_stack()

# --- substrate: a Kubernetes provider, the capability object and the cluster's facts ---
substrate = build_substrate(
    stack,
    cfg,
    # With private nodes, the charts' webhook and APIService ports (derived from the rendered charts).
    control_plane_ports=control_plane_ports(),
    # CNPG's instances run as a ServiceAccount named after the Cluster; they write the budget backups.
    backup_namespace=naming.NS_TENANT_GATEWAY,
    backup_service_account=BUDGET_DB,
    # `pulumi config set --secret vast_ssh_private_key < ~/.ssh/id_ed25519`; unset: the SSH agent is used.
    ssh_private_key=read_secret("vast_ssh_private_key"),
)
k8s_opts = pulumi.ResourceOptions(providers={"kubernetes": substrate.provider})
pulumi.export("substrateCapabilities", substrate.capabilities.as_json())

# --- the control plan: every tier decision, made once; components receive it as a plain value ---
control_plan = plan_controls(trust_tier=cfg.trust_tier, profile=cfg.profile,
                             capabilities=substrate.capabilities, governance=cfg.governance)

namespaces = PlatformNamespaces(
    "platform",
    PlatformNamespacesArgs(control_plan=control_plan, tenants=tuple(t.name for t in cfg.tenants)),
    opts=k8s_opts,
)

# --- serving (ServingStack) ---
serving = ServingStack(
    "serving",
    ServingStackArgs(
        models=cfg.models,
        tenants=cfg.tenants,
        capabilities=substrate.capabilities,
        gpu_capacity=cfg.gpu_pool.capacity,
        namespaces=namespaces,
        hf_token=read_secret("hf_token"),
        control_plan=control_plan,
        observability=cfg.observability,
        budget_db_instances=cfg.tenant_gateway.postgres_instances,
        budget_cache=cfg.tenant_gateway.redis,
    ),
    opts=k8s_opts,
)
pulumi.export("inferenceGatewayUrl", serving.gateway_url)
pulumi.export("servedModels", serving.served_names)
# --- end serving ---

# --- tenant gateway (TenantGateway) ---
tenant_gateway = TenantGateway(
    "tenant-gateway",
    TenantGatewayArgs(
        models=cfg.models,
        tenants=cfg.tenants,
        gateway=cfg.tenant_gateway,
        control_plan=control_plan,
        gateway_url=serving.gateway_url,
        model_api_key=serving.model_api_key,
        served_names=serving.served_names,
        model_headers=serving.model_headers,
        namespace=namespaces.tenant_gateway.metadata.name,
        operator_namespace=namespaces.platform[naming.NS_CNPG].metadata.name,
        key_namespaces={t: ns.metadata.name for t, ns in namespaces.tenants.items()},
        backup_gcp_service_account=substrate.backup_identity,
        key_rotation=cfg.tenant_gateway.key_rotation,
        # The public edge's Cloud Armor policy and certificate map (GKE, mode public); None otherwise.
        edge_gcp=substrate.edge,
    ),
    opts=k8s_opts,
)
pulumi.export("tenantGatewayUrl", tenant_gateway.service_url)
pulumi.export("tenantGatewayCapacity", tenant_gateway.capacity.summary())
# What tenants' clients (IDEs, `llmp ide-config`) use: see llmplatform/gateway/edge.py `client_base_url`.
pulumi.export("tenantClientUrl", tenant_gateway.client_url)
pulumi.export("tenantEdge", edge_as_json(cfg.tenant_gateway.exposure))
# --- end tenant gateway ---

# --- governance (GovernancePack) ---
governance = GovernancePack(
    "governance",
    GovernancePackArgs(
        control_plan=control_plan,
        capabilities=substrate.capabilities,
        tenants=cfg.tenants,
        governance=cfg.governance,
        tenant_gateway=cfg.tenant_gateway,
        litellm_service_account=tenant_gateway.service_account_name,
        serving_models=tuple(m.name for m in cfg.models),
        namespaces=namespaces,
        # The substrate's own namespaces, the controllers' and `governance.extra_exempt_namespaces`.
        sr2_exempt_namespaces=sr2_exempt_namespaces(cfg.governance.extra_exempt_namespaces,
                                                    system_namespaces=substrate.capabilities.system_namespaces),
        kube_api_cidrs=substrate.kube_api_cidrs,
        # Where edge traffic reaches LiteLLM's pods from (client ranges, or the Google proxies): admitted on
        # LiteLLM's port only (SR1).
        client_cidrs=edge_source_ranges(cfg.tenant_gateway.exposure),
    ),
    opts=k8s_opts,
)
pulumi.export("controlPlan", control_plan.as_json())
# --- end governance ---

pulumi.export("kubeconfig", substrate.kubeconfig)
pulumi.export("profile", cfg.profile.value)
pulumi.export("trustTier", cfg.trust_tier.value)
