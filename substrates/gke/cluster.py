"""GkeCluster: a private, VPC-native GKE Standard cluster with Dataplane V2, and its Kubernetes provider.

Children: a VPC and subnet (pod/service secondary ranges), a Cloud Router + NAT (private nodes
still pull images and model weights), a least-privilege node ServiceAccount, the cluster with its
default pool removed, one system node pool for controllers and, on private nodes, a firewall rule that
lets the control plane reach the webhook and APIService ports (`control_plane_ports`). It exposes the
kubeconfig (secret), the control-plane address the kubeconfig uses, and a `pulumi_kubernetes.Provider`
that every substrate-agnostic component receives.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from pulumi.errors import InputPropertyErrorDetails

from llmplatform.problems import Problem, raise_problems
from llmplatform import naming
from llmplatform.config.model import (
    DEFAULT_MASTER_IPV4_CIDR,
    DEFAULT_NODE_CIDR,
    DEFAULT_PODS_CIDR,
    DEFAULT_SERVICES_CIDR,
    ApiEndpoint,
    ClusterLocation,
    ReleaseChannel,
    api_endpoint_violations,
)

TYPE = "llmplatform:gke_cluster:GkeCluster"
"""A contract: every deployed cluster's URN carries it. Kept from `components/gke_cluster.py`, where the
component lived before `substrates/gke/`; changing it needs an alias."""

MIN_MASTER_VERSION = "1.34"
"""GKE installs and owns the Inference Extension's InferencePool v1 CRD from 1.34 (the GKE capability
`managed_crds` says so, and the serving layer then does not apply the bundle); an older control plane would
leave InferencePools with no CRD. The release channel still picks the patch version and upgrades."""
DATAPATH_PROVIDER = "ADVANCED_DATAPATH"
"""Dataplane V2 (eBPF/Cilium): enforces NetworkPolicy natively, which SR1 depends on."""

NODE_SA_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
"""The minimum GKE nodes need (Google's hardening guide), instead of the default compute SA's Editor."""

ADDON_NAMESPACES: tuple[str, ...] = ("gmp-public", "gmp-system")
"""Namespaces GKE creates for the add-ons this cluster enables, beyond kube-system; SR2 must exempt
each (llmplatform/controls/exemptions.py; a test compares the two). Managed Service for Prometheus
(`monitoring_config.managed_prometheus`) runs its operator, collectors and rule evaluator in
`gmp-system` and reads its OperatorConfig from `gmp-public` on GKE Standard (`gke-gmp-system` is the
Autopilot name); sources in exemptions.py. The other add-ons enabled here are not known to create a
namespace of their own: the Cloud Storage FUSE CSI driver runs one `gcsfusecsi-node` Pod per node and
its sidecar-injection webhook in the control plane (GoogleCloudPlatform/gcs-fuse-csi-driver
docs/troubleshooting.md), the HTTP load balancing add-on's default backend runs in kube-system, and the
GKE Gateway and Ingress controllers run in the control plane. That the FUSE node Pods are in kube-system
was not found stated in the docs searched; `kubectl get ns` on a live cluster is the check."""


SYSTEM_DISK_TYPE = "pd-balanced"
"""Boot disk type of the system pool's nodes."""


@dataclass(frozen=True, kw_only=True)
class GkeClusterArgs:
    """Shape inputs are plain values: they decide which resources exist."""

    stack: str
    """Stack name; physical names are `llmp-<stack>...` (see llmplatform/naming.py)."""
    project: str
    region: str
    """The region of the network, the NAT and every zone in `node_zones`."""
    node_zones: tuple[str, ...]
    """Zones for node pools (GPU availability differs per zone)."""
    location: ClusterLocation = ClusterLocation.REGIONAL
    """`regional`: the cluster's location is `region` (control plane replicated across its zones) and
    the system pool spans every zone in `node_zones`. `zonal`: the cluster's location is
    `node_zones[0]` (one control-plane replica; GKE's free-tier credit applies) and the system pool
    lives in that zone only. Other pools may still span `node_zones`."""
    release_channel: ReleaseChannel = ReleaseChannel.REGULAR
    """GKE release channel; it picks the control plane's and the nodes' versions and upgrades them."""
    private_nodes: bool = True
    """True: nodes have no public IP; egress goes through the NAT this component creates."""
    master_ipv4_cidr: str = DEFAULT_MASTER_IPV4_CIDR
    node_cidr: str = DEFAULT_NODE_CIDR
    pods_cidr: str = DEFAULT_PODS_CIDR
    services_cidr: str = DEFAULT_SERVICES_CIDR
    master_authorized_cidrs: tuple[str, ...] = ()
    """Networks that may reach the control plane (GKE master authorized networks). With `api_endpoint`
    public they must be public ranges; empty leaves the public endpoint open to authenticated callers.
    With `private` they must be private (VPC or connected) ranges; empty then admits only the node subnet."""
    api_endpoint: ApiEndpoint = ApiEndpoint.PUBLIC
    """Which endpoint the kubeconfig's server is. `public`: the cluster's public endpoint
    (`cluster.endpoint`). `private`: GKE's `enable_private_endpoint` (the public endpoint is disabled)
    and the server is `private_cluster_config.private_endpoint`, inside `master_ipv4_cidr`; requires
    `private_nodes`. Contradictory combinations with `private_nodes` and `master_authorized_cidrs` are
    refused (see llmplatform.config.model.api_endpoint_violations)."""
    control_plane_ports: tuple[int, ...] = ()
    """TCP ports on the nodes that the control plane must reach beyond 443 and 10250 (the only ones
    GKE opens to private nodes): admission webhooks and aggregated APIServices served by charts. With
    private nodes and at least one port: one ingress firewall rule from `master_ipv4_cidr` to the
    nodes running as the node service account. Empty (default), or public nodes: no rule."""
    system_machine_type: str = "e2-standard-4"
    system_nodes_per_zone: int = 1
    """Nodes in each zone the system pool spans (see `location`)."""
    system_spot: bool = False
    """True: system nodes are Spot VMs (preemptible any time with 30 s notice)."""
    system_disk_size_gb: int = 100
    """Boot disk of each system node, GB of pd-balanced."""
    deletion_protection: bool = True
    """True: Pulumi `protect` plus GKE deletion protection; a change that would replace the cluster fails."""


def validate(args: GkeClusterArgs) -> list[InputPropertyErrorDetails]:
    """Every problem with the endpoint and firewall inputs (empty: valid)."""
    out: list[InputPropertyErrorDetails] = [
        {"property_path": key, "reason": f"is {value!r}; {allowed}"}
        for key, value, allowed in api_endpoint_violations(
            api_endpoint=args.api_endpoint, private_nodes=args.private_nodes,
            master_authorized_cidrs=args.master_authorized_cidrs)
    ]
    for i, port in enumerate(args.control_plane_ports):
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            out.append({"property_path": f"control_plane_ports[{i}]",
                        "reason": f"is {port!r}; must be a TCP port number, 1-65535"})
    return out


class GkeCluster(pulumi.ComponentResource):
    """A GKE cluster for the platform. `kubernetes_provider` is what downstream components use."""

    kubeconfig: pulumi.Output[str]
    """Secret. Uses `gke-gcloud-auth-plugin`, so it carries no long-lived credential itself."""
    api_endpoint: ApiEndpoint
    """Which endpoint the kubeconfig uses (the input, for readers that compare it with the authorized networks)."""
    kube_api_endpoint: pulumi.Output[str]
    """The address the kubeconfig's server names: the public endpoint, or the private endpoint inside
    `master_ipv4_cidr` (`api_endpoint: private`). Not secret."""
    control_plane_firewall: gcp.compute.Firewall | None
    """The rule opening `control_plane_ports` to the control plane; None without private nodes or ports."""
    kubernetes_provider: k8s.Provider
    cluster: gcp.container.Cluster
    """Escape hatch: the raw cluster resource."""
    node_service_account_email: pulumi.Output[str]
    network_id: pulumi.Output[str]

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        raise_problems(f"GkeCluster {name!r}",
                       [Problem(p["property_path"], reason=p["reason"]) for p in validate(args)])
        child = pulumi.ResourceOptions(parent=self)
        private_endpoint = args.api_endpoint == ApiEndpoint.PRIVATE

        network = gcp.compute.Network(
            f"{name}-network",
            name=naming.gcp_network(args.stack, "vpc"),
            project=args.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            name=naming.gcp_network(args.stack, "nodes"),
            project=args.project,
            region=args.region,
            network=network.id,
            ip_cidr_range=args.node_cidr,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                {"range_name": naming.GKE_PODS_RANGE, "ip_cidr_range": args.pods_cidr},
                {"range_name": naming.GKE_SERVICES_RANGE, "ip_cidr_range": args.services_cidr},
            ],
            log_config={"aggregation_interval": "INTERVAL_5_MIN", "flow_sampling": 0.5, "metadata": "INCLUDE_ALL_METADATA"},
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router",
            name=naming.gcp_network(args.stack, "router"),
            project=args.project,
            region=args.region,
            network=network.id,
            opts=child,
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            name=naming.gcp_network(args.stack, "nat"),
            project=args.project,
            region=args.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )

        node_sa = gcp.serviceaccount.Account(
            f"{name}-nodes-sa",
            account_id=naming.gcp_service_account_id(args.stack, "nodes"),
            project=args.project,
            display_name=f"GKE nodes of llm-platform {args.stack}",
            opts=child,
        )
        for role in NODE_SA_ROLES:
            gcp.projects.IAMMember(
                f"{name}-nodes-sa-{role.removeprefix('roles/').replace('.', '-')}",
                project=args.project,
                role=role,
                member=pulumi.Output.concat("serviceAccount:", node_sa.email),
                opts=child,
            )

        # GKE refuses a private endpoint without authorized networks enabled ("Master authorized networks
        # must be enabled if private endpoint is enabled", rancher/rancher#32251); enabled with no
        # blocks, only the node subnet reaches it.
        authorized = (
            {"cidr_blocks": [{"cidr_block": c, "display_name": f"authorized-{i}"}
                             for i, c in enumerate(args.master_authorized_cidrs)]}
            if args.master_authorized_cidrs or private_endpoint else None
        )
        # Dataplane V2 can only be chosen when a cluster is created: GKE cannot switch the datapath of
        # a running cluster, so the provider marks `datapathProvider` ForceNew and a change would
        # REPLACE the cluster (every workload, every PVC-bound budget row). `protect` turns that
        # silent replacement into a failed preview, and GKE's own deletion_protection refuses the
        # delete half of a replace even if someone un-protects in state. The CrossGuard pack checks
        # the value on every preview, so a PR that changes it is stopped before it reaches `up`.
        self.cluster = gcp.container.Cluster(
            f"{name}-cluster",
            name=naming.gke_cluster(args.stack),
            project=args.project,
            location=cluster_location(args),
            network=network.id,
            subnetwork=subnet.id,
            networking_mode="VPC_NATIVE",
            datapath_provider=DATAPATH_PROVIDER,
            # The default pool cannot be configured as we need; it is created then removed.
            remove_default_node_pool=True,
            initial_node_count=1,
            ip_allocation_policy={"cluster_secondary_range_name": naming.GKE_PODS_RANGE,
                                  "services_secondary_range_name": naming.GKE_SERVICES_RANGE},
            private_cluster_config={
                "enable_private_nodes": args.private_nodes,
                "enable_private_endpoint": private_endpoint,
                "master_ipv4_cidr_block": args.master_ipv4_cidr if args.private_nodes else None,
            },
            master_authorized_networks_config=authorized,
            release_channel={"channel": args.release_channel.value},
            min_master_version=MIN_MASTER_VERSION,
            workload_identity_config={"workload_pool": naming.gke_workload_pool(args.project)},
            gateway_api_config={"channel": "CHANNEL_STANDARD"},
            addons_config={
                "http_load_balancing": {"disabled": False},
                "gcs_fuse_csi_driver_config": {"enabled": True},
            },
            logging_config={"enable_components": ["SYSTEM_COMPONENTS", "WORKLOADS"]},
            monitoring_config={
                "enable_components": ["SYSTEM_COMPONENTS"],
                "managed_prometheus": {"enabled": True},
            },
            enable_shielded_nodes=True,
            deletion_protection=args.deletion_protection,
            resource_labels={"llm-platform": args.stack},
            opts=pulumi.ResourceOptions(parent=self, protect=args.deletion_protection, depends_on=[subnet]),
        )

        self.system_pool = gcp.container.NodePool(
            f"{name}-system-pool",
            name=naming.gke_node_pool(args.stack, "system"),
            project=args.project,
            location=cluster_location(args),
            cluster=self.cluster.name,
            node_locations=list(system_pool_zones(args)),
            node_count=args.system_nodes_per_zone,
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={
                "machine_type": args.system_machine_type,
                "disk_size_gb": args.system_disk_size_gb,
                "disk_type": SYSTEM_DISK_TYPE,
                # Set only when true, so an on-demand pool registers the same inputs as before the option.
                **({"spot": True} if args.system_spot else {}),
                "service_account": node_sa.email,
                "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                "workload_metadata_config": {"mode": "GKE_METADATA"},
                "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
                "labels": {"llmplatform.io/pool": "system"},
            },
            opts=child,
        )

        if args.private_nodes and args.control_plane_ports:
            ports = sorted(set(args.control_plane_ports))
            # GKE's own rule lets the control plane reach private nodes on 443 and 10250 only; a webhook
            # or APIService on any other port times out and blocks every API call it intercepts.
            self.control_plane_firewall = gcp.compute.Firewall(
                f"{name}-control-plane-firewall",
                name=naming.gcp_firewall(args.stack, "control-plane-webhooks"),
                project=args.project,
                network=network.id,
                direction="INGRESS",
                source_ranges=[args.master_ipv4_cidr],
                allows=[{"protocol": "tcp", "ports": [str(p) for p in ports]}],
                # Every node pool runs as this account (the GPU pool too, see substrates/gke/substrate.py).
                target_service_accounts=[node_sa.email],
                description=(f"llm-platform {args.stack}: GKE control plane ({args.master_ipv4_cidr}) to admission "
                             f"webhooks and APIServices on the nodes, tcp {','.join(map(str, ports))}"),
                opts=child,
            )
        else:
            self.control_plane_firewall = None

        self.api_endpoint = args.api_endpoint
        self.kube_api_endpoint = (
            self.cluster.private_cluster_config.apply(lambda c: c.private_endpoint if c else None)
            if private_endpoint else self.cluster.endpoint
        )
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.cluster.name, self.kube_api_endpoint, self.cluster.master_auth).apply(
                lambda parts: render_kubeconfig(parts[0], parts[1], parts[2]["cluster_ca_certificate"])
            )
        )
        self.kubernetes_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            # Objects are created only after the system pool exists, so controllers have somewhere to run.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_pool]),
        )
        self.node_service_account_email = node_sa.email
        self.network_id = network.id
        self.register_outputs(
            {
                "clusterName": self.cluster.name,
                "endpoint": self.cluster.endpoint,
                "apiEndpoint": args.api_endpoint.value,
                "kubeApiEndpoint": self.kube_api_endpoint,
                "kubeconfig": self.kubeconfig,
                "nodeServiceAccount": node_sa.email,
            }
        )


def cluster_location(args: GkeClusterArgs) -> str:
    """The GKE `location` of the cluster and its pools: the region, or the first node zone if zonal."""
    return args.node_zones[0] if args.location == ClusterLocation.ZONAL else args.region


def system_pool_zones(args: GkeClusterArgs) -> tuple[str, ...]:
    """Zones of the system pool: every node zone, or only the control plane's zone if zonal (a zonal
    cluster is not highly available, so spreading its controllers buys nothing but nodes)."""
    return (args.node_zones[0],) if args.location == ClusterLocation.ZONAL else args.node_zones


def render_kubeconfig(cluster_name: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig that authenticates with `gke-gcloud-auth-plugin` (short-lived tokens, no stored key)."""
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {cluster_name}
  cluster:
    server: https://{endpoint}
    certificate-authority-data: {ca_certificate}
contexts:
- name: {cluster_name}
  context:
    cluster: {cluster_name}
    user: {cluster_name}
current-context: {cluster_name}
users:
- name: {cluster_name}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      installHint: Install gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin)
      provideClusterInfo: true
"""
