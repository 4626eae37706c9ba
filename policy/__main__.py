"""The llm-platform CrossGuard pack: checks what GovernancePack, ServingStack and TenantGateway render.

Run by the Pulumi CLI (`pulumi preview --policy-pack policy/ --policy-pack-config policy/config/prod.json`)
or by `llmp plan` offline. Constructing the PolicyPack starts its gRPC server and blocks, so this file
only builds it; every rule lives in `rules/`.
"""

import sys
from pathlib import Path

try:
    import llmplatform  # noqa: F401 - installed in the project's virtualenv
except ImportError:  # a pack run from a checkout without the editable install
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack  # noqa: E402
from rules import ALL_POLICIES, PACK_NAME, default_enforcement_level  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=ALL_POLICIES,
    # Without --policy-pack-config: mandatory when the stack's profile is prod, advisory elsewhere.
    enforcement_level=default_enforcement_level(),
    description="SR1-SR3 and hygiene for the llm-platform stacks (advisory on dev, mandatory on prod).",
)
