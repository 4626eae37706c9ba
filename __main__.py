"""llm-platform: the Pulumi program. Config is read here, once; everything else receives typed values.

Run it with the Pulumi CLI (`pulumi up`, `pulumi preview --policy-pack policy/`) or offline with
`llmp plan <stack>`, which executes this same file under the Pulumi SDK's mocks.
"""

import pulumi

from components.platform_namespaces import PlatformNamespaces, PlatformNamespacesArgs
from llmplatform.config import GkeSubstrate, TrustTier
from llmplatform.config.pulumi_source import read_platform_config
from substrates.gke import build_gke

cfg = read_platform_config()
stack = pulumi.get_stack()

# --- substrate: a Kubernetes provider plus the capability object ---
if isinstance(cfg.substrate, GkeSubstrate):
    substrate = build_gke("gke", stack, cfg.substrate, cfg.gpu_pool)
else:
    raise pulumi.RunError("substrate kind 'vast' is not wired into the program yet (issue: Vast.ai substrate)")
k8s_opts = pulumi.ResourceOptions(providers={"kubernetes": substrate.provider})

namespaces = PlatformNamespaces(
    "platform",
    PlatformNamespacesArgs(
        trust_tier=cfg.trust_tier.value,
        tenant_namespaces=tuple(t.name for t in cfg.tenants) if cfg.trust_tier == TrustTier.UNTRUSTED else (),
    ),
    opts=k8s_opts,
)

# --- serving (ServingStack) ---
# --- end serving ---

# --- tenant gateway (TenantGateway) ---
# --- end tenant gateway ---

# --- governance (GovernancePack) ---
# --- end governance ---

pulumi.export("kubeconfig", substrate.kubeconfig)
pulumi.export("profile", cfg.profile.value)
pulumi.export("trustTier", cfg.trust_tier.value)
