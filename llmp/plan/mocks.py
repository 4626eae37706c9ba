"""Recording mocks: answer the program like an engine would, and remember every registration.

The stock `MockMonitor` hands `Mocks.new_resource` only the type, name and inputs; a plan also
needs parent, provider, protect and the other options, so the monitor itself is subclassed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

SECRET_SIG = rpc._special_sig_key  # noqa: SLF001 - the wire marker of a secret value
SECRET_VALUE_SIG = rpc._special_secret_sig  # noqa: SLF001

MOCK_SECRET_PREFIX = "llmpmock-"


def mock_secret_value(kind: str, name: str) -> str:
    """Deterministic stand-in for a secret (generated password, secret config).

    Recomputable from names in plan.json, so the leak scan can look for every one under build/.
    """
    return MOCK_SECRET_PREFIX + hashlib.sha256(f"{kind}:{name}".encode()).hexdigest()[:32]


MOCK_PUBLIC_ENDPOINT = "203.0.113.10"
"""A GKE cluster's public endpoint under the mocks (RFC 5737 documentation address)."""


def mock_private_endpoint(master_ipv4_cidr: str) -> str:
    """A GKE cluster's private endpoint under the mocks: the third address of its control-plane /28
    (172.16.0.34 for the default 172.16.0.32/28)."""
    return str(ipaddress.ip_network(master_ipv4_cidr)[2])


class UnansweredInvoke(RuntimeError):
    """The program called a provider function the offline plan cannot answer."""


# Provider functions that silently expand into children when answered by a real provider. Unanswered
# under mocks they would yield zero children, so the plan refuses them by name.
EXPANDING_INVOKES = {
    "kubernetes:helm:template": "helm.v3.Chart (use a pinned helm.v3.Release instead)",
    "kubernetes:yaml:decode": "yaml.ConfigFile/ConfigGroup (use typed resources)",
    "kubernetes:kustomize:directory": "kustomize.Directory (use typed resources)",
}


@dataclass
class Registration:
    """One RegisterResource call, as the engine would have seen it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool = False
    dependencies: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """`customTimeouts` as Pulumi duration strings (`create: 45m`); empty: the provider's defaults."""
    aliases: list[str] = field(default_factory=list)
    """URNs the resource was known by before (`aliases=`), in this monitor's URN form: an existing stack
    adopts a resource at one of them instead of replacing it."""


class PlanMocks(pulumi_mocks.Mocks):
    """Outputs for the types the program reads; every other resource echoes its inputs."""

    def __init__(self) -> None:
        self.unanswered: list[str] = []

    def call(self, args: pulumi_mocks.MockCallArgs):
        reason = EXPANDING_INVOKES.get(args.token, "no offline answer is defined for it")
        self.unanswered.append(f"{args.token}: {reason}")
        raise UnansweredInvoke(
            f"the program called provider function {args.token!r}, which the offline plan cannot answer "
            f"({reason}); add an answer in llmp/plan/mocks.py or avoid the invoke"
        )

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        state = dict(args.inputs)
        typ = args.typ
        if typ == "gcp:container/cluster:Cluster":
            state.update(
                endpoint=MOCK_PUBLIC_ENDPOINT,
                masterAuth={"clusterCaCertificate": "TU9DSy1DQQ==", "clientCertificate": "", "clientKey": ""},
                selfLink=f"projects/{state.get('project')}/locations/{state.get('location')}/clusters/{state.get('name')}",
            )
            private = dict(state.get("privateClusterConfig") or {})
            if private.get("enablePrivateNodes") and private.get("masterIpv4CidrBlock"):
                # GKE gives the control plane an address inside its /28 (and still a public one, which
                # `enablePrivateEndpoint` only stops serving); GkeCluster's kubeconfig reads the private one.
                private.update(privateEndpoint=mock_private_endpoint(private["masterIpv4CidrBlock"]),
                               publicEndpoint=MOCK_PUBLIC_ENDPOINT)
                state["privateClusterConfig"] = private
        elif typ == "gcp:serviceaccount/account:Account":
            state["email"] = f"{state.get('accountId')}@{state.get('project')}.iam.gserviceaccount.com"
        elif typ in ("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString"):
            length = int(state.get("length", 32))
            state["result"] = mock_secret_value("random", args.name)[:max(length, 16)]
        elif typ == "random:index/randomBytes:RandomBytes":
            state["hex"] = mock_secret_value("random", args.name)
            state["base64"] = mock_secret_value("random-b64", args.name)
        elif typ.startswith("pulumi:providers:"):
            pass
        # --- Vast substrate (substrates/vast/cluster.py): the rented VM and the SSH commands run on it ---
        elif typ == "pulumi-python:dynamic/llmplatform/vast:VastHost":
            state.update(instance_id="10000001", offer_id=20000001, public_ip="203.0.113.20",
                         ssh_host="203.0.113.20", ssh_port=22, dph_total=float(state.get("max_dph_usd", 1.0)),
                         machine_id=30000001, host_id=40000001, geolocation="Oregon, US", reliability=0.99,
                         gpu_ram_mb=24564.0, cpu_ram_mb=128000.0, cpu_cores_effective=16.0, cuda_max_good=12.8,
                         driver_version="570.153.02")
        elif typ == "command:remote:Command":
            state.update(stderr="", stdout="")
            if str(state.get("create", "")).endswith("-- kubeconfig"):
                state["stdout"] = (
                    "apiVersion: v1\nkind: Config\nclusters:\n- name: default\n  cluster:\n"
                    "    server: https://203.0.113.20:6443\n    certificate-authority-data: TU9DSy1DQQ==\n"
                    "contexts:\n- name: default\n  context: {cluster: default, user: default}\n"
                    "current-context: default\nusers:\n- name: default\n  user:\n"
                    f"    client-key-data: {mock_secret_value('kubeconfig', args.name)}\n")
        # --- end Vast substrate ---
        return f"{args.name}-id", state


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A MockMonitor that also keeps parent, provider and resource options of each registration."""

    def __init__(self, mocks: PlanMocks):
        super().__init__(mocks)
        self._lock = threading.Lock()
        self.registrations: dict[str, Registration] = {}
        self.stack_urn = ""

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs = rpc.deserialize_properties(request.object, keep_internal=True)
        outputs = self.resources[urn].state if urn in self.resources else {}
        reg = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=request.custom,
            parent=request.parent,
            # A provider reference is `<provider urn>::<provider id>`.
            provider=request.provider.rsplit("::", 1)[0] if request.provider else "",
            inputs=inputs,
            outputs=outputs,
            protect=bool(request.protect),
            dependencies=sorted(request.dependencies),
            replace_on_changes=sorted(request.replaceOnChanges),
            ignore_changes=sorted(request.ignoreChanges),
            additional_secret_outputs=sorted(request.additionalSecretOutputs),
            delete_before_replace=bool(request.deleteBeforeReplace),
            retain_on_delete=bool(request.retainOnDelete),
            custom_timeouts={k: v for k in ("create", "update", "delete")
                             if (v := getattr(request.customTimeouts, k, ""))},
            aliases=sorted(self.alias_urns(request)),
        )
        with self._lock:
            self.registrations[urn] = reg
        return response

    def alias_urns(self, request) -> list[str]:
        """The URN each alias of a registration names, spelled as `make_urn` spells URNs (so an alias of a
        top-level resource carries the stack's type, as the resource's own URN did while it was top-level).

        An alias spec leaves out what did not change: no name or type means the resource's own, no
        parent means its current parent, `noParent` (`Alias(parent=pulumi.ROOT_STACK_RESOURCE)`) the stack.
        Left out: a custom resource's alias that changes only its type. Provider SDKs add those for tokens
        their provider renamed (`gcp:serviceAccount/...` before `gcp:serviceaccount/...`) to every resource
        of the type; the program cannot rename a provider's type, so they say nothing about the program.
        """
        out = []
        for alias in request.aliases:
            if alias.WhichOneof("alias") == "urn":
                out.append(alias.urn)
                continue
            spec = alias.spec
            if request.custom and spec.type and not (spec.name or spec.parentUrn or spec.noParent
                                                     or spec.stack or spec.project):
                continue
            parent = self.stack_urn if spec.noParent else (spec.parentUrn or request.parent)
            urn = self.make_urn(parent, spec.type or request.type, spec.name or request.name)
            if spec.stack or spec.project:  # "urn:pulumi:<stack>::<project>::<type>::<name>"
                head, project, rest = urn.split("::", 2)
                stack = head.removeprefix("urn:pulumi:")
                urn = "::".join([f"urn:pulumi:{spec.stack or stack}", spec.project or project, rest])
            out.append(urn)
        return out
