"""BudgetBackupIdentity: the GCP identity that writes the budget database's backups to a bucket.

Children (logical names `f"{name}-<role>"`):
- `-sa`: a GCP service account, `llmp-<stack>-budget-backup`, with no project role;
- `-wi`: the Workload Identity binding that lets one Kubernetes ServiceAccount act as it;
- `-bucket`: `roles/storage.objectAdmin` on the backup bucket, and nothing else.

These three resources were once created at the top of the stack (no parent). Each child carries
`aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]` and keeps its old logical name, so an
existing stack adopts them under this component instead of replacing them (the offline plan records
the alias; tests/substrates/test_gke_substrate.py checks every old URN is one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
from pulumi.errors import InputPropertyErrorDetails

from llmplatform.problems import Problem, raise_problems
from llmplatform import naming

TYPE = "llmplatform:budget_backup:BudgetBackupIdentity"

BUCKET_URL = re.compile(r"^gs://(?P<bucket>[a-z0-9][-_.a-z0-9]{1,220})(/.*)?$")
"""`gs://<bucket>[/<path>]`, as the stack config's `tenant_gateway.backup_bucket` allows it."""

TOP_LEVEL = [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
"""Where the children lived before this component: at the top of the stack, under the same names."""


@dataclass(frozen=True, kw_only=True)
class BudgetBackupIdentityArgs:
    """Shape inputs are plain; the cluster is a dependency, not a value."""

    stack: str
    """Stack name; the account id is `llmp-<stack>-budget-backup` (see llmplatform/naming.py)."""
    project: str
    """The GCP project of the account and of the cluster's Workload Identity pool."""
    bucket: str
    """`gs://<bucket>[/<path>]` the backups go to; the account may write any object of that bucket."""
    namespace: str
    """Namespace of the Kubernetes ServiceAccount that acts as the account."""
    service_account: str
    """The Kubernetes ServiceAccount; CNPG runs a Cluster's instances as one named after the Cluster."""
    cluster: pulumi.Resource
    """The GKE cluster whose `workload_identity_config` creates the pool `<project>.svc.id.goog`. The
    binding waits for it: on a project without an earlier Workload Identity cluster, binding a member of
    a pool that does not exist yet fails ("Identity Pool does not exist"; Google: the pool "isn't
    provisioned until cluster creation",
    https://cloud.google.com/anthos/clusters/docs/multi-cloud/azure/how-to/managed-service-prometheus)."""


def validate(args: BudgetBackupIdentityArgs) -> list[InputPropertyErrorDetails]:
    """Every problem with the inputs (empty: valid)."""
    out: list[InputPropertyErrorDetails] = []
    if not BUCKET_URL.match(args.bucket):
        out.append({"property_path": "bucket",
                    "reason": f"is {args.bucket!r}; must be a gs:// bucket URL like gs://acme-backups/budget-db"})
    for key in ("namespace", "service_account"):
        if not getattr(args, key):
            out.append({"property_path": key, "reason": "is empty; name the Kubernetes ServiceAccount that writes"})
    return out


def bucket_name(url: str) -> str:
    """The bucket of `gs://<bucket>[/<path>]`."""
    return url.removeprefix("gs://").split("/")[0]


class BudgetBackupIdentity(pulumi.ComponentResource):
    """A GCP service account a Kubernetes ServiceAccount acts as, allowed to write one bucket."""

    email: pulumi.Output[str]
    """The account's email, for the CNPG Cluster's backup configuration (`googleCredentials`)."""
    account: gcp.serviceaccount.Account
    """Escape hatch: the raw service account."""

    def __init__(self, name: str, args: BudgetBackupIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        raise_problems(f"BudgetBackupIdentity {name!r}",
                       [Problem(p["property_path"], reason=p["reason"]) for p in validate(args)])
        child = pulumi.ResourceOptions(parent=self, aliases=TOP_LEVEL)

        self.account = gcp.serviceaccount.Account(
            f"{name}-sa",
            account_id=naming.gcp_service_account_id(args.stack, "budget-backup"),
            project=args.project,
            display_name=f"llm-platform {args.stack} budget database backups",
            opts=child,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-wi",
            service_account_id=self.account.id,
            role="roles/iam.workloadIdentityUser",
            member=naming.gke_workload_identity_member(args.project, args.namespace, args.service_account),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[args.cluster])),
        )
        gcp.storage.BucketIAMMember(
            f"{name}-bucket",
            bucket=bucket_name(args.bucket),
            role="roles/storage.objectAdmin",
            member=pulumi.Output.concat("serviceAccount:", self.account.email),
            opts=child,
        )
        self.email = self.account.email
        self.register_outputs({"email": self.email})
