"""The stack config schema (pydantic v2) and its cross-field rules.

Keys are snake_case in `Pulumi.<stack>.yaml` under the project namespace, e.g.
`llm-platform:tenants`. Every model is frozen: components receive values, never mutate them.
Docstrings say what a default does; docs/configuration.md is generated from nothing and must be
kept in step by hand (a test compares its key list with these models).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from enum import StrEnum
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)

from llmplatform.config.errors import (
    PATTERN_HINTS,
    ConfigError,
    bundle_for_pydantic,
    problems_from_validation_error,
)
from llmplatform.config.hardware import ACCELERATORS, machine_gpu_count, machine_types_for
from llmplatform.predicates.capacity import pool_gpu_capacity
from llmplatform.problems import Problem, raise_problems
from llmplatform.serving import tool_parsers

DNS_LABEL = r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$"
"""Names that become Kubernetes object names and label values: DNS-1035 labels, at most 32 characters
so that derived names (`<name>-epp`, `vllm-<name>`) stay within the 63-character limit."""
HF_REVISION = r"^[0-9a-f]{40}$"
SYSTEM_DISK_MIN_GB = 10
"""GKE refuses node boot disks under 10 GB (`gcloud container node-pools create --disk-size`)."""
SYSTEM_DISK_MAX_GB = 65536
"""Compute Engine's largest persistent disk (64 TB)."""
PATTERN_HINTS.update({
    DNS_LABEL: "must be a lowercase DNS label: a-z, 0-9 and '-', starting with a letter, at most 32 characters",
    HF_REVISION: "must be a 40-character hex Hugging Face commit id (weights are pinned like images)",
    r"^[\w.-]+/[\w.-]+$": "must be a Hugging Face repo id like 'org/name'",
    r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$": "must be a GCP project id (6-30 lowercase letters, digits, '-')",
    r"^[a-z]+-[a-z]+\d$": "must be a GCP region like 'us-central1'",
})


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False, use_attribute_docstrings=True)


class Profile(StrEnum):
    """`dev` fails open and scales to zero; `prod` fails closed (SR3) and is highly available."""

    DEV = "dev"
    PROD = "prod"


class TrustTier(StrEnum):
    """Who shares the platform; it decides which controls are enforced (see docs/trust-tiers.md)."""

    TRUSTED = "trusted"
    MULTI_TEAM = "multi-team"
    UNTRUSTED = "untrusted"

    @property
    def rank(self) -> int:
        return [TrustTier.TRUSTED, TrustTier.MULTI_TEAM, TrustTier.UNTRUSTED].index(self)


class ReleaseChannel(StrEnum):
    RAPID = "RAPID"
    REGULAR = "REGULAR"
    STABLE = "STABLE"


class ClusterLocation(StrEnum):
    """Where the GKE control plane lives. `regional`: replicated across the region's zones (no
    free-tier credit). `zonal`: one replica in `zones[0]` (GKE's free-tier credit applies; the
    control plane is unavailable during its upgrades)."""

    REGIONAL = "regional"
    ZONAL = "zonal"


class GpuSharing(StrEnum):
    """`none`: one container per GPU. `time-sharing`: GKE/NVIDIA time-slicing, no memory isolation.
    `mig`: hardware partitions (A100/H100 only)."""

    NONE = "none"
    TIME_SHARING = "time-sharing"
    MIG = "mig"


class PrefixCacheMode(StrEnum):
    """`shared`: one prefix cache for everyone (a tenant can time another's prompts).
    `tenant-salted`: the gateway sets a per-tenant `cache_salt`. `off`: prefix caching disabled."""

    SHARED = "shared"
    TENANT_SALTED = "tenant-salted"
    OFF = "off"


DEFAULT_MASTER_IPV4_CIDR = "172.16.0.32/28"
"""The control plane's private /28 (GKE requires exactly /28, outside every node/pod/service range)."""
DEFAULT_NODE_CIDR = "10.10.0.0/20"
DEFAULT_PODS_CIDR = "10.20.0.0/14"
DEFAULT_SERVICES_CIDR = "10.24.0.0/20"
"""The default address plan: nodes, pods and services in disjoint ranges; the config and the
GkeCluster component both default to these, so a component used outside this program agrees."""


class ApiEndpoint(StrEnum):
    """Which control-plane endpoint the kubeconfig's server is, so where Pulumi, kubectl and every
    runner must connect from. Shared by the config (`substrate.api_endpoint`) and GkeCluster.

    `public`: GKE's public endpoint, an internet address. Only public networks can reach it, so
    `master_authorized_cidrs` must then be public ranges (empty: any authenticated caller).
    `private`: the public endpoint is disabled; the kubeconfig's server is the control plane's private
    endpoint inside `master_ipv4_cidr`, reachable only from the cluster's VPC and networks connected
    to it (Cloud VPN, Interconnect, peering with routes to `master_ipv4_cidr`), and from the cluster's
    region only (GKE's control-plane global access is not turned on), so runners must run there.
    Requires `private_nodes`; `master_authorized_cidrs` must then be private (VPC or connected) ranges."""

    PUBLIC = "public"
    PRIVATE = "private"


NON_PUBLIC_RANGES: dict[str, str] = {
    "10.0.0.0/8": "RFC 1918 private",
    "172.16.0.0/12": "RFC 1918 private",
    "192.168.0.0/16": "RFC 1918 private",
    "100.64.0.0/10": "RFC 6598 shared (CGNAT)",
    "169.254.0.0/16": "RFC 3927 link-local",
    "127.0.0.0/8": "loopback",
    "fc00::/7": "RFC 4193 unique local",
    "fe80::/10": "IPv6 link-local",
}
"""Ranges no caller on the internet has as its source address: a network wholly inside one of them can
never reach a public endpoint. A wider network that only overlaps one (`0.0.0.0/0`) holds public
addresses, so it counts as public."""


def non_public_range(cidr: str) -> str | None:
    """What kind of non-public range `cidr` lies wholly inside (`RFC 1918 private`), or None if it holds
    public addresses. `cidr` must parse (see `api_endpoint_violations`)."""
    net = ipaddress.ip_network(cidr, strict=True)
    for block, kind in NON_PUBLIC_RANGES.items():
        outer = ipaddress.ip_network(block)
        if net.version == outer.version and net.subnet_of(outer):  # type: ignore[arg-type]
            return kind
    return None


def classified_ranges(key: str, cidrs: Sequence[str], example: str,
                      out: list[tuple[str, Any, str]]) -> list[tuple[str, str, str | None]]:
    """(`key[i]`, cidr, `non_public_range(cidr)`) for each range that parses; a malformed one is appended
    to `out` as a problem naming `key[i]`, with `example` as the form expected. Shared by every range list
    the config judges public or private (authorized networks, the tenant edge's clients)."""
    ranges = []
    for i, cidr in enumerate(cidrs):
        try:
            ranges.append((f"{key}[{i}]", cidr, non_public_range(cidr)))
        except ValueError:
            out.append((f"{key}[{i}]", cidr,
                        f"must be a CIDR block like {example} (address/prefix length, host bits zero)"))
    return ranges


def api_endpoint_violations(*, api_endpoint: ApiEndpoint, private_nodes: bool,
                            master_authorized_cidrs: tuple[str, ...]) -> list[tuple[str, Any, str]]:
    """(key, value, what is allowed and the fix) for each contradiction between the endpoint kind, private
    nodes and the authorized networks (a private range on a public endpoint, a public range on a private
    one, a private endpoint without private nodes, a malformed range); keys are relative to the
    substrate. Empty: consistent.
    Used by the config schema and by GkeCluster, so both refuse the same combinations."""
    out: list[tuple[str, Any, str]] = []
    if api_endpoint == ApiEndpoint.PRIVATE and not private_nodes:
        out.append(("api_endpoint", api_endpoint.value,
                    "a private endpoint requires private_nodes: true (GKE has one only on a cluster with "
                    "private nodes); set private_nodes: true, or api_endpoint: public"))
    for key, cidr, kind in classified_ranges("master_authorized_cidrs", master_authorized_cidrs,
                                             "203.0.113.0/24", out):
        if kind and api_endpoint == ApiEndpoint.PUBLIC:
            out.append((key, cidr,
                        f"must be a public range while api_endpoint is public: it lies in {kind} address "
                        "space, from which no caller reaches the public endpoint; set api_endpoint: private "
                        "(runners inside the VPC or connected to it), or list the runners' public egress "
                        "ranges"))
        if not kind and api_endpoint == ApiEndpoint.PRIVATE:
            # GKE itself refuses it: "network ... is not a reserved network, which is required for private
            # endpoints" (GoogleCloudPlatform/gke-network-policy-demo#37).
            out.append((key, cidr,
                        "must be a private range (RFC 1918 or another reserved range) while api_endpoint is "
                        "private: the private endpoint is reached only from the VPC and networks connected to "
                        "it, and GKE refuses public ranges there; list those networks' ranges, or set "
                        "api_endpoint: public"))
    return out


class GkeSubstrate(Frozen):
    """A GKE Standard cluster with Dataplane V2; see substrates/gke/cluster.py."""

    kind: Literal["gke"]
    project: Annotated[str, Field(pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")]
    region: Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+\d$")]
    zones: Annotated[tuple[str, ...], Field(min_length=1)]
    """Zones for the GPU pool's nodes; pick zones that offer the accelerator."""
    release_channel: ReleaseChannel = ReleaseChannel.REGULAR
    private_nodes: bool = True
    """True: nodes get no public IP; egress (image pulls, model weights) goes through Cloud NAT."""
    master_ipv4_cidr: str = DEFAULT_MASTER_IPV4_CIDR
    node_cidr: str = DEFAULT_NODE_CIDR
    pods_cidr: str = DEFAULT_PODS_CIDR
    services_cidr: str = DEFAULT_SERVICES_CIDR
    api_endpoint: ApiEndpoint = ApiEndpoint.PUBLIC
    """Which control-plane endpoint the kubeconfig (Pulumi, kubectl, runners) uses; see ApiEndpoint.
    `public` (default): reachable from anywhere, so dev needs no VPN, bastion or runner in the VPC.
    `private`: only from the VPC or networks connected to it, in the cluster's region; requires
    `private_nodes`."""
    master_authorized_cidrs: tuple[str, ...] = ()
    """Networks that may reach the control plane. With `api_endpoint: public` they must be public ranges
    (an RFC 1918, CGNAT, link-local or loopback range is refused: it never reaches a public address);
    empty keeps the public endpoint open to any authenticated caller (fine for CI-driven dev stacks,
    narrow it for prod). With `private` they must be private ranges of the VPC or networks connected to
    it (GKE refuses public ones there); empty then admits only the node subnet."""
    location: ClusterLocation = ClusterLocation.REGIONAL
    """`regional`: the control plane and the system pool span every zone in `zones`. `zonal`: the
    control plane and the system pool are in `zones[0]` only, and the GPU pool still spans `zones`.
    Prod must be regional."""
    system_machine_type: str = "e2-standard-4"
    system_nodes_per_zone: Annotated[int, Field(ge=1, le=10)] = 1
    """System nodes in each zone the system pool spans (every zone in `zones` for a regional cluster, only
    `zones[0]` for a zonal one)."""
    system_spot: bool = False
    """True: the system pool runs on Spot VMs (cheaper, preemptible at any time with 30 s notice; every
    controller, LiteLLM and Postgres restart elsewhere or wait for a new node). Not allowed on prod."""
    system_disk_size_gb: Annotated[int, Field(ge=SYSTEM_DISK_MIN_GB, le=SYSTEM_DISK_MAX_GB)] = 100
    """Boot disk of each system node, GB of pd-balanced: the node image, container images and logs."""
    deletion_protection: bool = True
    """True: Pulumi `protect` and GKE's own deletion protection both refuse to delete or replace the
    cluster; flip to false deliberately before tearing a stack down."""

    @field_validator("zones")
    @classmethod
    def _zones_in_region(cls, zones: tuple[str, ...], info: Any) -> tuple[str, ...]:
        region = info.data.get("region")
        bad = [z for z in zones if region and not z.startswith(region + "-")]
        if bad:
            raise ValueError(f"zones must be in region {region!r}: {', '.join(bad)} are not")
        return zones

    @model_validator(mode="after")
    def _endpoint_consistent(self) -> GkeSubstrate:
        """The endpoint kind, private nodes and authorized networks must not contradict each other."""
        bundle_for_pydantic([Problem(key, value, allowed) for key, value, allowed in api_endpoint_violations(
            api_endpoint=self.api_endpoint, private_nodes=self.private_nodes,
            master_authorized_cidrs=self.master_authorized_cidrs)])
        return self


class VastSubstrate(Frozen):
    """Rented Vast.ai VM(s) running k3s, for cheap multi-GPU validation (not for prod)."""

    kind: Literal["vast"]
    gpu_name: str = "RTX_4090"
    """Vast's GPU name filter (`gpu_name` in offer search), e.g. RTX_4090, L40S, A100_SXM4."""
    num_gpus: Annotated[int, Field(ge=1, le=8)] = 2
    min_reliability: Annotated[float, Field(ge=0, le=1)] = 0.98
    max_dph_usd: Annotated[float, Field(gt=0)] = 1.5
    """Highest acceptable price, USD per hour for the whole machine."""
    disk_gb: Annotated[int, Field(ge=50)] = 200
    image: str = "docker.io/vastai/kvm:ubuntu_terminal"
    """VM image; Vast boots only its `docker.io/vastai/kvm:*` images as VMs (k3s needs a VM)."""
    time_slicing_replicas: Annotated[int, Field(ge=1, le=8)] = 1
    """>1: the NVIDIA device plugin advertises each GPU this many times (no memory isolation)."""


Substrate = Annotated[GkeSubstrate | VastSubstrate, Field(discriminator="kind")]


class GpuPoolSpec(Frozen):
    """The autoscaled GPU node pool that model servers run on."""

    accelerator: str
    """GKE accelerator name, e.g. `nvidia-l4`; see llmplatform/config/hardware.py for the list."""
    machine_type: str
    gpus_per_node: Annotated[int, Field(ge=1, le=16)] = 1
    min_nodes: Annotated[int, Field(ge=0)] = 0
    """0: the pool scales to zero when no model replica needs a GPU (first request waits for a node)."""
    max_nodes: Annotated[int, Field(ge=1, le=100)] = 1
    spot: bool = False
    """True: Spot VMs, 60-91% cheaper, preemptible with 30 s notice; fine for dev, not for prod SLOs."""
    sharing: GpuSharing = GpuSharing.NONE
    max_shared_clients_per_gpu: Annotated[int, Field(ge=2, le=48)] | None = None
    """Time-sharing only: containers per physical GPU."""
    mig_partition_size: str | None = None
    """MIG only: the GKE `gpu_partition_size`, e.g. `1g.10gb`."""
    disk_size_gb: Annotated[int, Field(ge=100, le=4000)] = 200
    """Boot disk per node, GB: model weights are staged here."""

    @field_validator("accelerator")
    @classmethod
    def _known_accelerator(cls, value: str) -> str:
        if value not in ACCELERATORS:
            raise ValueError(f"must be one of: {', '.join(sorted(ACCELERATORS))}")
        return value

    @model_validator(mode="after")
    def _fits_hardware(self) -> GpuPoolSpec:
        """The machine must carry the accelerator; sharing settings must match the mode and the GPU."""
        pool, out = self, []
        acc = ACCELERATORS[pool.accelerator]
        counts = machine_gpu_count(pool.accelerator, pool.machine_type)
        if counts is None:
            out.append(Problem("machine_type", pool.machine_type,
                               f"must be a machine type that carries {pool.accelerator}: {machine_types_for(pool.accelerator)}"))
        elif pool.gpus_per_node not in counts:
            out.append(Problem("gpus_per_node", pool.gpus_per_node,
                               f"{pool.machine_type} carries {' or '.join(map(str, counts))} x {pool.accelerator}"))

        if pool.sharing == GpuSharing.MIG:
            if not acc.mig_capable:
                out.append(Problem("sharing", "mig", f"{pool.accelerator} is not MIG-capable (only A100 and H100 are)"))
            elif pool.mig_partition_size not in acc.mig_partitions:
                out.append(Problem("mig_partition_size", pool.mig_partition_size,
                                   f"must be one of: {', '.join(acc.mig_partitions)}"))
        elif pool.mig_partition_size is not None:
            out.append(Problem("mig_partition_size", pool.mig_partition_size, "only allowed with sharing: mig"))
        if pool.sharing == GpuSharing.TIME_SHARING and pool.max_shared_clients_per_gpu is None:
            out.append(Problem("max_shared_clients_per_gpu", None, "required with sharing: time-sharing", missing=True))
        if pool.sharing != GpuSharing.TIME_SHARING and pool.max_shared_clients_per_gpu is not None:
            out.append(Problem("max_shared_clients_per_gpu", pool.max_shared_clients_per_gpu,
                               "only allowed with sharing: time-sharing"))
        if pool.min_nodes > pool.max_nodes:
            out.append(Problem("min_nodes", pool.min_nodes, f"must be <= max_nodes ({pool.max_nodes})"))
        bundle_for_pydantic(out)
        return self

    @property
    def shared_clients(self) -> int:
        return (self.max_shared_clients_per_gpu or 1) if self.sharing == GpuSharing.TIME_SHARING else 1

    @property
    def capacity(self) -> int:
        """GPU units schedulable at max_nodes (time-sharing multiplies; MIG counts whole GPUs)."""
        return pool_gpu_capacity(
            max_nodes=self.max_nodes, gpus_per_node=self.gpus_per_node, shared_clients_per_gpu=self.shared_clients
        )


class Autoscaling(Frozen):
    """KEDA thresholds on leading saturation signals, per model replica."""

    running_ratio: Annotated[float, Field(gt=0, le=1)] = 0.75
    """Scale out when running requests / max_num_seqs exceeds this."""
    kv_cache_usage: Annotated[float, Field(gt=0, le=1)] = 0.8
    """Scale out when vLLM's KV-cache usage (0-1) exceeds this."""
    waiting_requests: Annotated[int, Field(ge=1)] = 4
    """Scale out when this many requests queue per replica."""
    cooldown_seconds: Annotated[int, Field(ge=30)] = 600
    """Seconds of quiet before scaling in (and to zero where min_replicas is 0)."""
    polling_seconds: Annotated[int, Field(ge=5)] = 15


class ModelCapability(StrEnum):
    """What a served model is offered for; decides its vLLM flags and its LiteLLM entry (docs/serving.md).

    `chat`: `/v1/chat/completions` with the model's chat template (instruct models).
    `completions`: `/v1/completions`, plain text completion; fill-in-the-middle (FIM) is a completion whose
    prompt the client writes with the model's FIM tokens (see `fim`): vLLM 0.14.0 refuses the OpenAI
    `suffix` field. Base models belong here.
    `tools`: agentic tool calls on `/v1/chat/completions` (`tools`, `tool_choice: auto`): vLLM runs with
    `--enable-auto-tool-choice --tool-call-parser <tool_call_parser>`. Requires `chat`."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    TOOLS = "tools"


class FimFormat(StrEnum):
    """The fill-in-the-middle tokens a model was trained with; an IDE writes its FIM prompt with them.

    `qwen-coder`: `<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>` (Qwen2.5-Coder, base and
    instruct). `starcoder`: `<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>` (StarCoder/2).
    `codellama`: `<PRE> {prefix} <SUF>{suffix} <MID>` (Code Llama). `deepseek-coder`:
    `<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>` (DeepSeek-Coder)."""

    QWEN_CODER = "qwen-coder"
    STARCODER = "starcoder"
    CODELLAMA = "codellama"
    DEEPSEEK_CODER = "deepseek-coder"


class ModelSpec(Frozen):
    """One served model: a vLLM Deployment, an InferencePool and a ScaledObject."""

    name: Annotated[str, Field(pattern=DNS_LABEL)]
    hf_id: Annotated[str, Field(pattern=r"^[\w.-]+/[\w.-]+$")]
    revision: Annotated[str, Field(pattern=HF_REVISION)]
    """The Hugging Face commit (40 hex): weights are pinned like images are."""
    served_name: Annotated[str, Field(min_length=1, max_length=128)]
    """The `model` value clients send; also the route key."""
    max_model_len: Annotated[int, Field(ge=256, le=1_048_576)] = 8192
    max_num_seqs: Annotated[int, Field(ge=1, le=1024)] = 64
    gpus_per_replica: Annotated[int, Field(ge=1, le=16)] = 1
    min_replicas: Annotated[int, Field(ge=0)] = 0
    """0: the model scales to zero; the first request after idle waits for a node and a cold start."""
    max_replicas: Annotated[int, Field(ge=1, le=64)] = 1
    input_cost_per_mtok_usd: Annotated[float, Field(gt=0)] = 0.10
    """What a tenant is charged per million prompt tokens; budgets only bind with a cost."""
    output_cost_per_mtok_usd: Annotated[float, Field(gt=0)] = 0.40
    """Per million completion tokens. Both prices apply to every capability the model serves: chat,
    completions (FIM) and tool calls are charged alike, against the same team budget."""
    capabilities: Annotated[tuple[ModelCapability, ...], Field(min_length=1)] = (ModelCapability.CHAT,)
    """What the model is offered for: `chat`, `completions` (text completion and FIM), `tools` (agentic tool
    calls; requires `chat` and `tool_call_parser`). Default `[chat]`: an instruct model without tools."""
    tool_call_parser: str | None = None
    """With `tools` (required there, refused otherwise): the vLLM parser that turns the model's tool-call
    text into OpenAI `tool_calls`, one the pinned vLLM release registers
    (llmplatform/serving/vllm_tool_parsers.json), e.g. `hermes` for Qwen2.5 models."""
    fim: FimFormat | None = None
    """The model's fill-in-the-middle tokens, for clients that write FIM prompts (IDE autocomplete).
    Requires `completions`. None: not offered for FIM."""
    autoscaling: Autoscaling = Autoscaling()

    @model_validator(mode="after")
    def _replicas_ordered(self) -> ModelSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) must be <= max_replicas ({self.max_replicas})")
        return self

    @model_validator(mode="after")
    def _capabilities_consistent(self) -> ModelSpec:
        """Tools need chat and a parser vLLM knows; a parser needs tools; FIM needs completions."""
        out: list[Problem] = []
        caps = [c.value for c in self.capabilities]
        dupes = sorted({c for c in caps if caps.count(c) > 1})
        if dupes:
            out.append(Problem("capabilities", caps, f"must list each capability once ({', '.join(dupes)} repeated)"))
        tools = ModelCapability.TOOLS in self.capabilities
        known = tool_parsers.known_parsers()
        if tools and ModelCapability.CHAT not in self.capabilities:
            out.append(Problem("capabilities", caps, "tools requires chat: tool calls are made on "
                               "/v1/chat/completions; add chat, or drop tools"))
        if tools and self.tool_call_parser is None:
            out.append(Problem("tool_call_parser", None, "capabilities lists tools, and vLLM needs "
                               f"--tool-call-parser for tool_choice: auto; one of {', '.join(known)}", missing=True))
        if self.tool_call_parser is not None and not tools:
            out.append(Problem("tool_call_parser", self.tool_call_parser,
                               "only allowed when capabilities lists tools; add tools, or remove tool_call_parser"))
        elif self.tool_call_parser is not None and self.tool_call_parser not in known:
            near = difflib.get_close_matches(self.tool_call_parser, known, n=1)
            out.append(Problem("tool_call_parser", self.tool_call_parser,
                               f"must be a tool parser {tool_parsers.release()} registers"
                               + (f" (did you mean {near[0]!r}?)" if near else "") + f": {', '.join(known)}"))
        if self.fim is not None and ModelCapability.COMPLETIONS not in self.capabilities:
            out.append(Problem("fim", self.fim.value, "requires completions in capabilities: a FIM prompt is sent "
                               "to /v1/completions; add completions, or remove fim"))
        bundle_for_pydantic(out)
        return self

    def serves(self, capability: ModelCapability) -> bool:
        return capability in self.capabilities


class TenantSpec(Frozen):
    """One tenant: a LiteLLM team with a budget, rate limits, allowed models and a virtual key."""

    name: Annotated[str, Field(pattern=DNS_LABEL)]
    budget_usd: Annotated[float, Field(gt=0)]
    """Monthly budget in USD; the team's keys are refused with `budget_exceeded` once it is spent."""
    rpm: Annotated[int, Field(gt=0)]
    tpm: Annotated[int, Field(gt=0)]
    allowed_models: Annotated[tuple[str, ...], Field(min_length=1)]
    """Model `name`s (not served names) this tenant may call."""
    gpu_quota: Annotated[int, Field(ge=0)] = 0
    """Nominal GPUs in the tenant's Kueue quota (its own namespace on the untrusted tier)."""


class Governance(Frozen):
    """Controls. The trust tier and profile decide defaults; these only tighten or name exemptions."""

    prefix_cache: PrefixCacheMode | None = None
    """None: from the tier (trusted: shared; multi-team and untrusted: tenant-salted)."""
    kyverno: bool = True
    """True: render SR2 as a Kyverno ClusterPolicy as well as a native ValidatingAdmissionPolicy."""
    extra_exempt_namespaces: tuple[str, ...] = ()
    """Namespaces (beyond kube-system and the controllers') that SR2 does not manage."""


class ExposureMode(StrEnum):
    """Who can reach LiteLLM (the tenants' API; nothing else is ever exposed). `cluster`: pods in the
    cluster only (a ClusterIP Service, no cloud load balancer). `internal`: also clients in the VPC and
    networks connected to it (an internal passthrough load balancer, plain HTTP, client addresses
    preserved). `public`: also clients on the internet over HTTPS (a GKE Gateway: a global external
    Application Load Balancer with a certificate and a Cloud Armor allow-list)."""

    CLUSTER = "cluster"
    INTERNAL = "internal"
    PUBLIC = "public"


class CertificateKind(StrEnum):
    """`managed`: a Google-managed certificate for `hostname` (Certificate Manager; DNS must point at the
    load balancer before it is issued). `secret`: an existing `kubernetes.io/tls` Secret in the tenant
    gateway's namespace, named by `secret_name` (created outside the stack, e.g. by cert-manager)."""

    MANAGED = "managed"
    SECRET = "secret"


PEM_MARKER = "-----BEGIN"
"""How plaintext key material shows itself; the config refuses it wherever it appears."""


class EdgeCertificate(Frozen):
    """The public edge's TLS certificate, by reference only: never key material in the stack file."""

    kind: CertificateKind
    secret_name: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")] | None = None
    """`secret` only: the Secret's name in the tenant gateway's namespace."""

    @model_validator(mode="before")
    @classmethod
    def _no_plaintext(cls, raw: Any) -> Any:
        """A certificate or key pasted into the stack file would land in Pulumi state and git: refused by key."""
        if isinstance(raw, dict):
            bundle_for_pydantic([
                Problem(key, "<PEM material, not shown>", "plaintext certificates and keys are refused: the stack "
                        "file and Pulumi state are not secret stores; use kind: managed, or kind: secret with "
                        "secret_name of a kubernetes.io/tls Secret created outside the stack")
                for key, value in raw.items() if isinstance(value, str) and PEM_MARKER in value])
        return raw

    @model_validator(mode="after")
    def _secret_named(self) -> EdgeCertificate:
        if self.kind == CertificateKind.SECRET and not self.secret_name:
            bundle_for_pydantic([Problem("secret_name", None, "required with kind: secret (the name of a "
                                         "kubernetes.io/tls Secret in the tenant gateway's namespace)", missing=True)])
        if self.kind == CertificateKind.MANAGED and self.secret_name:
            bundle_for_pydantic([Problem("secret_name", self.secret_name, "only allowed with kind: secret")])
        return self


HOSTNAME = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
PATTERN_HINTS[HOSTNAME] = "must be a lowercase fully qualified DNS name like llm.example.com (no scheme, no port)"


def exposure_violations(*, mode: ExposureMode, client_cidrs: tuple[str, ...], hostname: str | None,
                        certificate: EdgeCertificate | None) -> list[tuple[str, Any, str]]:
    """(key, value, what is allowed) for each contradiction in an exposure block; keys relative to it.
    Client ranges are judged like `master_authorized_cidrs`: an internal load balancer is reached only from
    private (VPC or connected) ranges, a public one only from public ranges."""
    out: list[tuple[str, Any, str]] = []
    if mode == ExposureMode.CLUSTER:
        for key, value in (("client_cidrs", client_cidrs or None), ("hostname", hostname),
                           ("certificate", certificate)):
            if value:
                out.append((key, value if key != "certificate" else certificate.kind.value,  # type: ignore[union-attr]
                            "only allowed with mode internal or public (mode cluster exposes nothing outside "
                            "the cluster)"))
        return out
    if not client_cidrs:
        out.append(("client_cidrs", None, f"required with mode {mode.value}: the ranges allowed to connect "
                    "(an empty list would be no one; 0.0.0.0/0 must be written out)"))
    for key, cidr, kind in classified_ranges("client_cidrs", client_cidrs, "10.128.0.0/16", out):
        if mode == ExposureMode.INTERNAL and not kind:
            out.append((key, cidr, "must be a private range (RFC 1918 or another reserved "
                        "range) with mode internal: an internal load balancer is reached only from the VPC and "
                        "networks connected to it; use mode public for internet clients"))
        if mode == ExposureMode.PUBLIC and kind:
            out.append((key, cidr, f"must be a public range with mode public: it lies in {kind} "
                        "address space, from which no caller reaches an internet load balancer; use mode "
                        "internal for VPC clients"))
    if mode == ExposureMode.PUBLIC:
        if not hostname:
            out.append(("hostname", None, "required with mode public: the DNS name clients use and the "
                        "certificate is for"))
        if certificate is None:
            out.append(("certificate", None, "required with mode public: plain HTTP to the internet is refused; "
                        "{kind: managed} or {kind: secret, secret_name: ...}"))
    if mode == ExposureMode.INTERNAL and certificate is not None:
        out.append(("certificate", certificate.kind.value, "only allowed with mode public: the internal load "
                    "balancer is passthrough (TCP), so LiteLLM serves plain HTTP inside the VPC"))
    return out


class TenantExposure(Frozen):
    """How clients outside the cluster reach LiteLLM (and nothing else); see docs/tenant-gateway.md, "Edge"."""

    mode: ExposureMode = ExposureMode.CLUSTER
    """`cluster` (default): in-cluster callers only, no load balancer and no cost. See ExposureMode."""
    client_cidrs: tuple[str, ...] = ()
    """Ranges allowed to connect; required for internal (private ranges) and public (public ranges)."""
    hostname: Annotated[str, Field(pattern=HOSTNAME, max_length=253)] | None = None
    """The DNS name clients use; required for public (the certificate is for it), optional for internal
    (a name you point at the load balancer's address; clients then use http://<hostname>:4000)."""
    certificate: EdgeCertificate | None = None
    """public only: `{kind: managed}` or `{kind: secret, secret_name: ...}`; plaintext PEM is refused."""

    @model_validator(mode="after")
    def _consistent(self) -> TenantExposure:
        bundle_for_pydantic([Problem(key, value, allowed) for key, value, allowed in exposure_violations(
            mode=self.mode, client_cidrs=self.client_cidrs, hostname=self.hostname, certificate=self.certificate)])
        return self


class TenantGatewaySpec(Frozen):
    """LiteLLM and its budget store. SR3's fail-closed settings follow the profile, not this block."""

    replicas: Annotated[int, Field(ge=1, le=20)] = 1
    """LiteLLM pods always running: the HA floor the autoscaler keeps (more if the floor cannot absorb the
    tenants' peak at full CPU; see llmplatform/gateway/capacity.py)."""
    max_replicas: Annotated[int, Field(ge=1, le=100)] | None = None
    """Most LiteLLM pods the HorizontalPodAutoscaler may run (they need room on the system pool). None: `replicas`, no
    autoscaler. The tenants' peak at `target_cpu_utilization` must fit it, or the stack is refused."""
    peak_factor: Annotated[float, Field(ge=1, le=60)] = 2.0
    """The tenants' peak request rate as a multiple of the sum of their RPM limits per second (an RPM
    limit is enforced per minute, so a minute's allowance can arrive in seconds)."""
    target_cpu_utilization: Annotated[float, Field(ge=0.2, le=0.9)] = 0.6
    """The share of a worker's core the autoscaler holds each pod at: the rest is burst headroom while new
    pods start (36-98 s)."""
    redis: bool = False
    """True: a Redis StatefulSet shares budget counters between LiteLLM replicas (required above 1)."""
    postgres_instances: Annotated[int, Field(ge=1, le=9)] = 1
    """CloudNativePG instances; prod needs >= 3 (one primary, two synchronous-capable replicas)."""
    postgres_storage_gb: Annotated[int, Field(ge=1)] = 10
    backup_bucket: str | None = None
    """`gs://...` for CNPG base backups and WAL archive; required on prod."""
    key_cache_ttl_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    """How long a replica trusts a cached key/budget without reading Postgres."""
    key_rotation: Annotated[str, Field(max_length=63, pattern=r"^[A-Za-z0-9._-]*$")] = ""
    """Opaque rotation epoch (e.g. `2026-11`): changing it re-runs the tenant reconciler, which issues
    every tenant a new key once and revokes the old one. Empty: keys are never rotated by config."""
    exposure: TenantExposure = TenantExposure()
    """The tenant edge: who outside the cluster reaches LiteLLM, and how (`cluster`, `internal`, `public`)."""


VLLM_TTFT_BUCKETS_SECONDS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                             10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
"""Bucket bounds of vLLM 0.14.0's `vllm:time_to_first_token_seconds` (vllm/v1/metrics/loggers.py; `llmp verify`
compares them with the recorded source). A latency SLO is counted from a bucket, so its bound must be one."""
VLLM_ITL_BUCKETS_SECONDS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                            20.0, 40.0, 80.0)
"""Bucket bounds of vLLM 0.14.0's `vllm:inter_token_latency_seconds` (same source)."""

_SLO_HISTOGRAMS: dict[str, tuple[str, tuple[float, ...]]] = {
    "ttft_slo_seconds": ("vllm:time_to_first_token_seconds", VLLM_TTFT_BUCKETS_SECONDS),
    "itl_slo_seconds": ("vllm:inter_token_latency_seconds", VLLM_ITL_BUCKETS_SECONDS),
}
"""Each SLO bound's key -> the vLLM histogram it is read from and that histogram's bucket bounds."""


class Observability(Frozen):
    """Alert thresholds (each key names its unit) and the monitoring stack's footprint. What each alert
    means and what to do: docs/operations.md. Whether history is kept on a volume and an Alertmanager runs
    follows the profile (prod: both), not this block."""

    team_spend_alert_share: Annotated[float, Field(gt=0, lt=1)] = 0.8
    """Share (0-1) of a team's `budget_usd` spent in the current budget period that raises TeamBudgetNearlySpent;
    at 1 LiteLLM refuses the team's keys."""
    litellm_5xx_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.05
    """Share (0-1) of LiteLLM's responses over 5 minutes answered 5xx that raises LiteLLMErrorRatioHigh."""
    ttft_slo_seconds: float = 2.5
    """Time-to-first-token objective per request, seconds; must be a bucket bound of vLLM's histogram
    (VLLM_TTFT_BUCKETS_SECONDS: 0.5, 0.75, 1.0, 2.5, 5.0, ...)."""
    ttft_slo_target: Annotated[float, Field(gt=0, lt=1)] = 0.99
    """Share (0-1) of a model's requests that must meet `ttft_slo_seconds` over 30 days; burn-rate alerts
    fire when the error budget (1 - target) burns 14.4x too fast over 1 h, or 6x over 6 h."""
    itl_slo_seconds: float = 0.1
    """Inter-token latency objective, seconds between tokens; a bucket bound of vLLM's histogram
    (VLLM_ITL_BUCKETS_SECONDS: 0.05, 0.075, 0.1, 0.15, ...)."""
    itl_slo_target: Annotated[float, Field(gt=0, lt=1)] = 0.99
    """Share (0-1) of a model's inter-token intervals that must meet `itl_slo_seconds` over 30 days."""
    kv_cache_saturation: Annotated[float, Field(gt=0, le=1)] = 0.95
    """KV-cache use (0-1) of a replica held for `saturation_minutes` that raises ModelKvCacheSaturated
    (above the autoscaling threshold: it means scaling did not relieve it)."""
    saturation_minutes: Annotated[int, Field(ge=1, le=120)] = 10
    """Minutes a saturation condition (KV cache, at max replicas with requests waiting) must hold."""
    pending_workload_minutes: Annotated[int, Field(ge=1, le=240)] = 15
    """Minutes Kueue workloads may wait for quota before KueueWorkloadsPendingForQuota."""
    retention_days: Annotated[int, Field(ge=1, le=400)] = 30
    """Days of history Prometheus keeps where it has a volume (prod); at least the 30-day SLO window there.
    Without a volume (dev) history lives on an emptyDir for 2 days."""
    storage_gib: Annotated[int, Field(ge=1, le=4096)] = 50
    """Size of Prometheus' PersistentVolume where it has one (prod), GiB of pd-balanced (in the cost estimate)."""

    @field_validator("ttft_slo_seconds", "itl_slo_seconds")
    @classmethod
    def _bucket_bound(cls, value: float, info: ValidationInfo) -> float:
        """An SLO bound must be a bucket bound of the vLLM histogram it is read from (the burn rate counts
        requests under it)."""
        metric, buckets = _SLO_HISTOGRAMS[info.field_name]
        if value not in buckets:
            raise ValueError(f"must be a bucket bound of vLLM's {metric} histogram, one of: "
                             + ", ".join(format(b, "g") for b in buckets))
        return value


class PlatformConfig(Frozen):
    """Everything `__main__.py` needs, validated once."""

    profile: Profile
    trust_tier: TrustTier
    substrate: Substrate
    gpu_pool: GpuPoolSpec
    models: Annotated[tuple[ModelSpec, ...], Field(min_length=1)]
    tenants: Annotated[tuple[TenantSpec, ...], Field(min_length=1)]
    tenant_gateway: TenantGatewaySpec = TenantGatewaySpec()
    governance: Governance = Governance()
    observability: Observability = Observability()

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)


def load_platform_config(raw: dict[str, Any], source: str = "stack config") -> PlatformConfig:
    """Validate `raw` (config keys without the project prefix), then the rules that span keys, the
    control plan's among them (`config/rules.py`): a tier the substrate cannot give is a config error.

    Raises ConfigError listing every problem at once; never returns a half-valid config.
    """
    schema_problems: list[Problem] = []
    try:
        cfg = PlatformConfig.model_validate(raw)
    except ValidationError as exc:
        schema_problems = problems_from_validation_error(exc, model=PlatformConfig)
    raise_problems(source, schema_problems, error=ConfigError)
    # The rules need the control plan, whose module imports this one (for the enums): imported on call.
    from llmplatform.config.rules import cross_field_problems

    raise_problems(source, cross_field_problems(cfg), error=ConfigError)
    return cfg
