"""Pinned artifacts of the tenant gateway: container images (tag + digest) and the CNPG Helm chart.

Every image is `repo:tag@sha256:<index digest>`: the tag says what a human expects, the digest is
what the kubelet pulls (a moved tag cannot change it). Where a digest came from is written beside
it; re-resolve with `crane digest <repo>:<tag>` (or `docker buildx imagetools inspect`) before a
version bump, and update the comment with the new source.
"""

from __future__ import annotations

LITELLM_VERSION = "1.100.1"
"""The LiteLLM release the image runs. Setting names the rendered config relies on
(`allow_requests_on_db_unavailable`, `fail_closed_budget_enforcement`, `coordination_redis`,
`use_redis_transaction_buffer`, `user_api_key_cache_ttl`) were read in this release's wheel
(`litellm/proxy/auth/user_api_key_auth.py`, `proxy/_types.py`, `proxy/db/db_spend_update_writer.py`)."""

LITELLM_IMAGE = (
    "ghcr.io/berriai/litellm-non_root:v1.100.1"
    "@sha256:c36f3b27a5a817329e0fcf9c4e3a7bf58b62a5a736ad5352f0a5771c1be58404"
)
"""Index digest of the non_root v1.100.1 image, as pinned (with its index digest) by a public
deployment test found with the code search. The newest release with a digest recorded in any source
reachable offline; re-resolve with `crane digest` before a bump. The non_root variant runs as uid
65534, which the pod's `runAsNonRoot` requires."""

REDIS_IMAGE = (
    "docker.io/valkey/valkey:8-bookworm"
    "@sha256:a137a2b60aca1a75130022d6bb96af423fefae4eb55faf395732db3544803280"
)
"""Valkey 8 (BSD-3, wire-compatible with Redis 7.2; Redis >= 7.4 is no longer OSI-licensed).
Digest as pinned by immich-app/immich `docker/docker-compose.yml` (commit 0126ec8f)."""

CNPG_CHART = "cloudnative-pg"
CNPG_CHART_VERSION = "0.29.0"
"""Chart 0.29.0 ships operator 1.30.0 (cloudnative-pg/charts `charts/cloudnative-pg/Chart.yaml` at
`Release cloudnative-pg-v0.29.0`, and https://cloudnative-pg.io/charts/index.yaml), the same release
as the CRD schema in shared/crd-schemas (postgresql.cnpg.io/cluster_v1.json, v1.30.0)."""
CNPG_CHART_REPO = "https://cloudnative-pg.github.io/charts"

CNPG_OPERATOR_IMAGE_TAG = "1.30.0@sha256:a2701eb97cdd2a34b1fdb2cb51987f544b706e40bec72ae7146cd8580efefebb"
"""`ghcr.io/cloudnative-pg/cloudnative-pg:<this>`; the same index digest is pinned independently by
several public deployments of CNPG 1.30.0 (found with the code search, e.g. a `cnpg-1.30.0.yaml`
manifest lock with sha256 f8bede43...)."""

POSTGRES_IMAGE = (
    "ghcr.io/cloudnative-pg/postgresql:17.10-202607130907-system-trixie"
    "@sha256:c141aec61cab8da3e215aebe0fa155e78442fbb41c982a86743915a967e12af9"
)
"""PostgreSQL 17 `system` flavour: it still carries barman-cloud, which the in-tree
`barmanObjectStore` backup needs (the `minimal`/`standard` flavours do not). The timestamped tag is
immutable upstream (the short `17.10-system-trixie` tag is rebuilt and moves). Digest as pinned in a
public CNPG deployment script found with the code search; re-resolve before relying on it."""
