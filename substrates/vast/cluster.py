"""`VastCluster`: one rented Vast.ai VM bootstrapped into a one-node k3s cluster, plus its Kubernetes provider.

Children (logical names `f"{name}-<role>"`):
- `-host`: `VastHost` (substrates/vast/host.py) rents the VM with the API port 6443 exposed;
- `-bootstrap`: a `pulumi_command.remote.Command` that pipes `bootstrap.sh` to the VM over SSH: the
  NVIDIA container toolkit, k3s (Traefik off, NetworkPolicy controller on), the `nvidia` RuntimeClass,
  the Gateway API CRDs (GKE's managed feature), the NVIDIA device plugin and GPU Feature Discovery
  with time-slicing when configured, all pinned;
- `-kubeconfig`: a second remote Command printing k3s' admin kubeconfig with the server rewritten to
  the VM's public address; its stdout is a secret (`additional_secret_outputs`) and is never logged;
- `-k8s`: the `pulumi_kubernetes.Provider` every substrate-agnostic component receives.

Nothing here creates Kubernetes objects: what the host needs (runtime, device plugin) is host
configuration done by the bootstrap, so the serving manifests are the same objects as on GKE.

Costs and lifetime are VastHost's: billing runs from `pulumi up` until `pulumi destroy`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pulumi
import pulumi_kubernetes as k8s
from pulumi_command import remote

from llmplatform.problems import Problem, raise_problems
from llmplatform import naming
from llmplatform.config import VastSubstrate
from substrates.vast.host import DEFAULT_IMAGE, VastHost, VastHostArgs

TYPE = "llmplatform:vast_cluster:VastCluster"

BOOTSTRAP_SCRIPT = Path(__file__).with_name("bootstrap.sh")
"""Piped to `bash -s` on the VM; a real file so it can be linted and run in tests."""

K3S_VERSION = "v1.34.9+k3s1"
"""k3s release (Kubernetes 1.34, what GKE's REGULAR channel serves at the time of writing)."""
CONTAINER_TOOLKIT_VERSION = "1.17.8-1"
"""Debian package version of nvidia-container-toolkit and its libraries."""
DEVICE_PLUGIN_VERSION = "0.18.2"
"""NVIDIA k8s-device-plugin Helm chart (bundles GPU Feature Discovery, which sets the product label)."""
GATEWAY_API_VERSION = "v1.6.1"
"""Gateway API CRDs (standard channel); GKE installs them itself, k3s (Traefik off) has none. Same
release as the CRD schemas the manifests are validated against (shared/crd-schemas)."""
API_PORT = 6443
"""k3s API server port inside the VM; Vast maps it to a random public port (read on the VM)."""

_VERSION = {
    "k3s_version": re.compile(r"^v\d+\.\d+\.\d+\+k3s\d+$"),
    "container_toolkit_version": re.compile(r"^\d+\.\d+\.\d+(-\d+)?$"),
    "device_plugin_version": re.compile(r"^\d+\.\d+\.\d+$"),
    "gateway_api_version": re.compile(r"^v\d+\.\d+\.\d+$"),
}


@dataclass(frozen=True, kw_only=True)
class VastClusterArgs:
    """Shape inputs are plain; only the SSH key is an Input (a secret)."""

    stack: str
    """Stack name; the VM's Vast label is `llmp-<stack>` (find strays on Vast's console by it)."""
    gpu_name: str
    """Vast GPU model, e.g. `RTX_4090` (see VastHostArgs.gpu_name)."""
    num_gpus: int
    """Exact GPU count of the VM, >= 1; k3s sees all of them on its one node."""
    max_dph_usd: float
    """Highest acceptable price for the whole VM, USD per hour."""
    min_reliability: float = 0.98
    disk_gb: int = 200
    """VM disk, GB: images (vLLM's is ~10 GB) and model weights (emptyDirs) live here."""
    image: str = DEFAULT_IMAGE
    """Vast VM image; it must ship the NVIDIA driver (the bootstrap checks with nvidia-smi)."""
    time_slicing_replicas: int = 1
    """1: each GPU is one `nvidia.com/gpu`. N > 1: the device plugin advertises each GPU N times
    (no memory isolation; the serving layer lowers vLLM's memory fraction to ~0.9/N) and GFD's
    product label gets `-SHARED`. Pods asking for more than one shared GPU are refused."""
    ssh_private_key: pulumi.Input[str] | None = None
    """Private key (OpenSSH PEM) whose public half is on the Vast account; kept secret. None: the SSH
    agent at `SSH_AUTH_SOCK` of the process running `pulumi up`."""
    ssh_user: str = "root"
    """Vast VMs accept root with the account's keys."""
    ssh_dial_attempts: int = 60
    """SSH connection attempts (about 15 s each) while the VM boots after Vast reports it running."""
    k3s_version: str = K3S_VERSION
    container_toolkit_version: str = CONTAINER_TOOLKIT_VERSION
    device_plugin_version: str = DEVICE_PLUGIN_VERSION
    gateway_api_version: str = GATEWAY_API_VERSION

    @classmethod
    def from_config(
        cls, stack: str, cfg: VastSubstrate, *, ssh_private_key: pulumi.Input[str] | None = None
    ) -> VastClusterArgs:
        return cls(
            stack=stack,
            gpu_name=cfg.gpu_name,
            num_gpus=cfg.num_gpus,
            max_dph_usd=cfg.max_dph_usd,
            min_reliability=cfg.min_reliability,
            disk_gb=cfg.disk_gb,
            image=cfg.image,
            time_slicing_replicas=cfg.time_slicing_replicas,
            ssh_private_key=ssh_private_key,
        )

    @property
    def label(self) -> str:
        return naming.vast_label(self.stack)

    def host_args(self) -> VastHostArgs:
        return VastHostArgs(
            gpu_name=self.gpu_name,
            num_gpus=self.num_gpus,
            max_dph_usd=self.max_dph_usd,
            min_reliability=self.min_reliability,
            disk_gb=self.disk_gb,
            image=self.image,
            label=self.label,
            ports=(API_PORT,),
        )

    def problems(self) -> list[tuple[str, str]]:
        """Every invalid field as (property, reason), the host's included; empty when usable."""
        found = list(self.host_args().problems())
        if not 1 <= self.time_slicing_replicas <= 48:
            found.append(("time_slicing_replicas", f"must be 1-48, got {self.time_slicing_replicas!r}"))
        if not self.ssh_user or not re.fullmatch(r"[a-z_][a-z0-9_-]*", self.ssh_user):
            found.append(("ssh_user", f"must be a Linux user name, got {self.ssh_user!r}"))
        if self.ssh_dial_attempts < 1:
            found.append(("ssh_dial_attempts", f"must be >= 1, got {self.ssh_dial_attempts!r}"))
        for key, pattern in _VERSION.items():
            value = getattr(self, key)
            if not pattern.match(value):
                found.append((key, f"must look like {pattern.pattern}, got {value!r}"))
        return found

    def bootstrap_env(self) -> dict[str, str]:
        """Environment of `bootstrap.sh` except LLMP_PUBLIC_IP (known only once the host exists)."""
        return {
            "LLMP_EXPECTED_GPUS": str(self.num_gpus),
            "LLMP_TIME_SLICING_REPLICAS": str(self.time_slicing_replicas),
            "LLMP_K3S_VERSION": self.k3s_version,
            "LLMP_CTK_VERSION": self.container_toolkit_version,
            "LLMP_DEVICE_PLUGIN_VERSION": self.device_plugin_version,
            "LLMP_GATEWAY_API_VERSION": self.gateway_api_version,
        }


def script_command(mode: str, env: dict[str, str]) -> str:
    """`env K=V ... bash -s -- <mode>`: values travel in the command line because sshd drops
    client-sent environment variables unless configured with AcceptEnv."""
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    return f"env {assigns} bash -s -- {mode}"


class VastCluster(pulumi.ComponentResource):
    """A one-node k3s cluster on a rented Vast.ai VM (see the module docstring)."""

    TYPE_TOKEN: ClassVar[str] = TYPE

    host: VastHost
    """Escape hatch: the rental (instance id, price, machine facts)."""
    public_ip: pulumi.Output[str | None]
    dph_usd: pulumi.Output[float]
    """What the rental costs, USD per hour (Vast's `dph_total`)."""
    kubeconfig: pulumi.Output[str]
    """Admin kubeconfig (client certificate) for the public API endpoint; secret."""
    kubernetes_provider: k8s.Provider

    def __init__(self, name: str, args: VastClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        raise_problems(f"VastCluster {name!r}", [Problem(prop, reason=reason) for prop, reason in args.problems()])
        script = BOOTSTRAP_SCRIPT.read_text()

        self.host = VastHost(f"{name}-host", args.host_args(), opts=pulumi.ResourceOptions(parent=self))
        self.public_ip = self.host.public_ip
        self.dph_usd = self.host.dph_total

        key = pulumi.Output.secret(args.ssh_private_key) if args.ssh_private_key is not None else None
        connection = remote.ConnectionArgs(
            # Vast reports either its SSH proxy or the machine itself; both reach the VM's sshd.
            host=pulumi.Output.all(self.host.ssh_host, self.host.public_ip).apply(lambda hp: hp[0] or hp[1]),
            port=self.host.ssh_port.apply(lambda p: p or 22),
            user=args.ssh_user,
            private_key=key,
            dial_error_limit=args.ssh_dial_attempts,
            per_dial_timeout=15,
        )
        public_ip = self.host.public_ip.apply(lambda ip: ip or "")
        bootstrap = remote.Command(
            f"{name}-bootstrap",
            connection=connection,
            create=public_ip.apply(
                lambda ip: script_command("bootstrap", {**args.bootstrap_env(), "LLMP_PUBLIC_IP": ip})
            ),
            stdin=script,
            # A new rental starts from a blank VM.
            triggers=[self.host.instance_id],
            opts=pulumi.ResourceOptions(parent=self),
        )
        fetch = remote.Command(
            f"{name}-kubeconfig",
            connection=connection,
            create=public_ip.apply(lambda ip: script_command("kubeconfig", {"LLMP_PUBLIC_IP": ip})),
            stdin=script,
            triggers=[self.host.instance_id],
            # The kubeconfig carries the admin client key: never in logs, secret in state.
            logging=remote.Logging.STDERR,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bootstrap], additional_secret_outputs=["stdout"]),
        )
        self.kubeconfig = pulumi.Output.secret(fetch.stdout)
        self.kubernetes_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            # A destroyed or vanished rental takes its objects with it; destroy must not hang on them.
            delete_unreachable=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[fetch]),
        )
        self.register_outputs(
            {
                "instanceId": self.host.instance_id,
                "publicIp": self.public_ip,
                "dphUsd": self.dph_usd,
                "kubeconfig": self.kubeconfig,
            }
        )
