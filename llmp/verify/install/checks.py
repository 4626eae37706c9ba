"""The install proof's checks: would the first `pulumi up` of this plan install, in this order, on this substrate?

Each check reads plan.json and the rendered objects (never the program's own intent) and returns problems,
each naming the object and the rule it breaks. The contracts each one is written from are cited in its
docstring.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llmplatform.serving.control_plane import GKE_OPEN_PORTS
from llmplatform.serving.images import GIE_BUNDLE_CRDS, GIE_CRDS_URL
from llmp.verify.manifests import BUILTIN_GROUPS
from llmp.verify.install.admission import chart_webhooks, intercepts
from llmp.verify.install.model import InstallModel, group_of, pod_template

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
FIREWALL = "gcp:compute/firewall:Firewall"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
# GKE's own firewall rules open only 443 and 10250 from the control plane to private nodes (GKE: "Adding
# firewall rules for specific use cases"); every other webhook port needs a rule.
GKE_ADDON_NAMESPACES: Mapping[tuple[str, ...], tuple[str, ...]] = {
    ("monitoringConfig", "managedPrometheus", "enabled"): ("gmp-system", "gmp-public"),
}
"""Cluster settings (plan inputs) -> namespaces the add-on creates and runs pods in. Managed Service for
Prometheus on GKE Standard runs its operator and collectors in `gmp-system` and reads `gmp-public`
(Google Cloud: "Managed collection" set-up; Autopilot uses `gke-gmp-system`). Other enabled add-ons of
this cluster (HTTP load balancing, GCS FUSE CSI, Dataplane V2) run in kube-system."""
PULUMI_DEFAULT_WAIT_S = 600
"""pulumi-kubernetes waits up to 10 minutes for a Deployment or StatefulSet to become ready when no
`customTimeouts` are set (its await logic; `pulumi.com/skipAwait: "true"` turns the wait off)."""
HELM_RELEASE_DEFAULT_TIMEOUT_S = 300
"""`helm.v3.Release.timeout` when unset (seconds), as Helm's own `--timeout` default."""
SKIP_AWAIT = "pulumi.com/skipAwait"


@dataclass(frozen=True)
class Problem:
    check: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.message}"


def managed_crds(model: InstallModel) -> set[str]:
    """`Kind.group` of every CRD the substrate installs and owns (plan output `substrateCapabilities`)."""
    return set((model.outputs.get("substrateCapabilities") or {}).get("managedCrds") or [])


def _gie_bundles(model: InstallModel) -> list[str]:
    return [r["urn"] for r in model.of_type(CONFIG_FILE) if r["inputs"].get("file") == GIE_CRDS_URL]


def crd_installers(model: InstallModel) -> dict[str, list[str]]:
    """`Kind.group` -> URNs of what this plan applies that creates that CRD (chart releases, the GIE bundle)."""
    out: dict[str, list[str]] = {}
    for chart_obj in model.charts:
        if chart_obj.obj.get("kind") == "CustomResourceDefinition":
            spec = chart_obj.obj.get("spec") or {}
            out.setdefault(f"{spec.get('names', {}).get('kind')}.{spec.get('group')}", []).append(chart_obj.release_urn)
    for urn in _gie_bundles(model):
        for crd in GIE_BUNDLE_CRDS:
            out.setdefault(crd, []).append(urn)
    return out


def check_crd_order(model: InstallModel) -> list[Problem]:
    """Every custom resource the program applies waits for what creates its CRD, or its CRD is the substrate's.

    Without the CRD the API server has no such resource ("no matches for kind"); pulumi-kubernetes retries
    a create only on NotFound/NoMatch for a short while, so ordering must come from the dependency graph.
    """
    installers, managed, out = crd_installers(model), managed_crds(model), []
    for planned in model.planned:
        if group_of(planned.obj) in BUILTIN_GROUPS:
            continue
        crd = f"{planned.obj.get('kind')}.{group_of(planned.obj)}"
        urns = installers.get(crd, [])
        if urns:
            if not any(u in model.waits_for(planned.urn) for u in urns):
                names = ", ".join(model.resources[u]["name"] for u in urns)
                out.append(Problem("crd-order", planned.ref, f"its CRD {crd} is created by {names}, which this "
                                                             "object does not wait for (depends_on)"))
        elif crd not in managed and not model.missing_charts:
            # With a chart not rendered its CRDs are unknown: the proof reports those releases as not modelled.
            out.append(Problem("crd-order", planned.ref, f"nothing in the plan creates its CRD {crd} and the "
                                                         "substrate does not provide it"))
    return out


def check_crd_ownership(model: InstallModel) -> list[Problem]:
    """No CRD is created both by the plan and by the substrate.

    pulumi-kubernetes >= 4.29 creates objects client-side: creating a CRD the substrate already installed is
    an AlreadyExists error, and if it did adopt it the two owners would fight over its versions.
    """
    managed = managed_crds(model)
    return [Problem("crd-ownership", crd, f"the plan installs it ({', '.join(model.resources[u]['name'] for u in urns)}) "
                                          "but the substrate already manages it")
            for crd, urns in sorted(crd_installers(model).items()) if crd in managed]


def check_webhook_order(model: InstallModel) -> list[Problem]:
    """Every object a chart's failurePolicy-Fail webhook intercepts waits for that chart's release.

    A Fail webhook that is registered but not serving yet refuses the create ("failed calling webhook ...
    connection refused"); pulumi-kubernetes does not retry that error, so the object must be created after
    the release (whose `atomic` install waits for the webhook's Deployment to be ready).
    """
    out: list[Problem] = []
    hooks = [h for h in chart_webhooks(model) if h.failure_policy == "Fail"]
    subjects = [(p.urn, p.obj, p.ref) for p in model.planned]
    subjects += [(c.release_urn, c.obj, c.ref) for c in model.charts]
    for hook in hooks:
        for urn, obj, ref in subjects:
            if urn == hook.release_urn or not intercepts(hook, obj, model):
                continue
            if hook.release_urn not in model.waits_for(urn):
                out.append(Problem("webhook-order", ref, f"is intercepted by {hook.ref} (failurePolicy Fail) but "
                                                         "does not wait for that release"))
    return out


def _member_pools(resource: Mapping[str, Any]) -> list[str]:
    inputs = resource.get("inputs") or {}
    members = [inputs.get("member")] + list(inputs.get("members") or [])
    return sorted({m.split("serviceAccount:", 1)[1].split("[", 1)[0] for m in members
                   if isinstance(m, str) and ".svc.id.goog[" in m})


def check_iam_order(model: InstallModel) -> list[Problem]:
    """An IAM binding whose member is a Workload Identity principal (`<pool>[namespace/sa]`) waits for the
    cluster that creates the pool (`workload_identity_config.workload_pool`).

    Google creates a project's workload identity pool with its first Workload Identity cluster; until then
    IAM refuses the member ("Identity Pool does not exist").
    """
    clusters = {((r["inputs"].get("workloadIdentityConfig") or {}).get("workloadPool")): r["urn"]
                for r in model.of_type(CLUSTER)}
    out = []
    for res in model.plan["resources"]:
        if not res["type"].startswith("gcp:"):
            continue
        for pool in _member_pools(res):
            urn = clusters.get(pool)
            subject = f"{res['type'].rsplit(':', 1)[-1]} {res['name']}"
            if urn is None:
                out.append(Problem("iam-order", subject, f"binds a member of Workload Identity pool {pool}, which no "
                                                         "cluster in this plan creates"))
            elif urn not in model.waits_for(res["urn"]):
                out.append(Problem("iam-order", subject, f"binds a member of pool {pool} but does not wait for "
                                                         f"{model.resources[urn]['name']}, whose creation makes the pool"))
    return out


def _target_port(model: InstallModel, namespace: str, name: str, port: int) -> tuple[int | None, str]:
    """The pod port a Service port sends to (a named targetPort resolved through the selected pods)."""
    service = next((o for o in model.all_objects if o.get("kind") == "Service" and group_of(o) == ""
                    and o["metadata"].get("name") == name and o["metadata"].get("namespace") == namespace), None)
    if service is None:
        return None, f"Service {namespace}/{name} is not among the rendered objects"
    spec = service.get("spec") or {}
    entry = next((p for p in spec.get("ports") or [] if int(p.get("port", 0)) == port), None)
    if entry is None:
        return None, f"Service {namespace}/{name} has no port {port}"
    target = entry.get("targetPort", port)
    if isinstance(target, int) or str(target).isdigit():
        return int(target), ""
    for template in model.pods_selected(namespace, spec.get("selector") or {}):
        for container in (template.get("spec") or {}).get("containers") or []:
            for cport in container.get("ports") or []:
                if cport.get("name") == target:
                    return int(cport["containerPort"]), ""
    return None, f"Service {namespace}/{name} port {port} targets the named port {target!r}, which no selected pod has"


def control_plane_targets(model: InstallModel, *, with_objects: bool = False) -> list[tuple]:
    """(what calls, Service, resolved pod port or None, why unresolved) for every webhook, APIService and CRD
    conversion webhook the API server calls through a Service; `with_objects` prefixes the declaring object."""
    out: list[tuple] = []
    for obj in model.all_objects:
        kind = obj.get("kind")
        refs: list[tuple[str, Mapping[str, Any]]] = []
        if kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            refs = [(f"{kind} {obj['metadata']['name']} webhook {h.get('name')}", (h.get("clientConfig") or {}).get("service"))
                    for h in obj.get("webhooks") or []]
        elif kind == "APIService":
            refs = [(f"APIService {obj['metadata']['name']}", (obj.get("spec") or {}).get("service"))]
        elif kind == "CustomResourceDefinition":
            conversion = ((obj.get("spec") or {}).get("conversion") or {}).get("webhook") or {}
            refs = [(f"CRD {obj['metadata']['name']} conversion webhook", (conversion.get("clientConfig") or {}).get("service"))]
        for caller, svc in refs:
            if not svc:
                continue  # a URL webhook, or a local APIService served by the API server itself
            port, why = _target_port(model, svc.get("namespace", ""), svc.get("name", ""), int(svc.get("port") or 443))
            row = (caller, f"{svc.get('namespace')}/{svc.get('name')}", port, why)
            out.append((obj, *row) if with_objects else row)
    return out


def _ports(allowed: Iterable[Mapping[str, Any]]) -> list[tuple[int, int]]:
    ranges = []
    for rule in allowed:
        if str(rule.get("protocol", "")).lower() not in ("tcp", "all"):
            continue
        ports = rule.get("ports") or ["0-65535"]
        for p in ports:
            lo, _, hi = str(p).partition("-")
            ranges.append((int(lo), int(hi or lo)))
    return ranges


def _covers(cidrs: Iterable[str], needed: str) -> bool:
    net = ipaddress.ip_network(needed, strict=False)
    return any(net.subnet_of(ipaddress.ip_network(c, strict=False)) for c in cidrs
               if ipaddress.ip_network(c, strict=False).version == net.version)


def check_control_plane_reachability(model: InstallModel) -> list[Problem]:
    """On GKE with private nodes, the control plane reaches every webhook, APIService and conversion webhook
    target port: GKE opens only 443 and 10250 from the control plane's range to the nodes, and the API server
    connects to the pod's target port (not the Service port), so every other port needs an INGRESS firewall
    rule from `master_ipv4_cidr` on the cluster's network to the nodes. Unreachable, a Fail webhook refuses
    every create it intercepts, an Ignore webhook is silently skipped, an APIService is unavailable."""
    out: list[Problem] = []
    for cluster in model.of_type(CLUSTER):
        private = cluster["inputs"].get("privateClusterConfig") or {}
        if not private.get("enablePrivateNodes"):
            continue
        source = private.get("masterIpv4CidrBlock") or ""
        node_sas = {(p["inputs"].get("nodeConfig") or {}).get("serviceAccount") for p in model.of_type(NODE_POOL)
                    if p["inputs"].get("cluster") == cluster["inputs"].get("name")}
        rules = [f["inputs"] for f in model.of_type(FIREWALL)
                 if f["inputs"].get("network") == cluster["inputs"].get("network")
                 and (f["inputs"].get("direction") or "INGRESS") == "INGRESS" and not f["inputs"].get("disabled")
                 and _covers(f["inputs"].get("sourceRanges") or [], source)
                 and (not f["inputs"].get("targetServiceAccounts")
                      or node_sas <= set(f["inputs"]["targetServiceAccounts"]))
                 and not f["inputs"].get("targetTags")]
        open_ranges = [r for rule in rules for r in _ports(rule.get("allows") or [])]
        unreachable: dict[tuple[str, int], list[str]] = {}
        for caller, service, port, why in control_plane_targets(model):
            if port is None:
                out.append(Problem("control-plane-reach", caller, f"target cannot be resolved: {why}"))
            elif port not in GKE_OPEN_PORTS and not any(lo <= port <= hi for lo, hi in open_ranges):
                unreachable.setdefault((service, port), []).append(caller)
        for (service, port), callers in sorted(unreachable.items()):
            shown = "; ".join(callers[:3]) + (f"; and {len(callers) - 3} more" if len(callers) > 3 else "")
            out.append(Problem("control-plane-reach", f"Service {service} pod port {port}",
                               f"no firewall rule opens it from the control plane ({source}) to the nodes of "
                               f"{cluster['name']}, and the API server calls it for: {shown}"))
    return out


def _private(cidr: str) -> bool:
    net = ipaddress.ip_network(cidr, strict=False)
    return net.is_private or net.subnet_of(ipaddress.ip_network("100.64.0.0/10"))


def check_endpoint_reachability(model: InstallModel) -> list[Problem]:
    """The kubeconfig's endpoint can be reached by someone the authorized networks admit.

    GKE (control plane access): with the public endpoint, authorized networks must be public ranges (a
    private range never reaches a public IP); with the private endpoint, the kubeconfig must use the private
    address (inside `master_ipv4_cidr`), reachable from the VPC and its peers.
    """
    out = []
    endpoint = model.outputs.get("kubeApiEndpoint")
    for cluster in model.of_type(CLUSTER):
        private = cluster["inputs"].get("privateClusterConfig") or {}
        cidrs = [b.get("cidrBlock") for b in ((cluster["inputs"].get("masterAuthorizedNetworksConfig") or {})
                                             .get("cidrBlocks") or [])]
        master = private.get("masterIpv4CidrBlock")
        on_private = bool(endpoint and master and
                          ipaddress.ip_address(endpoint) in ipaddress.ip_network(master, strict=False))
        if private.get("enablePrivateEndpoint"):
            if not on_private:
                out.append(Problem("endpoint-reach", cluster["name"], f"the public endpoint is disabled but the "
                                                                      f"kubeconfig uses {endpoint}, outside {master}"))
        elif on_private:
            continue
        elif cidrs and all(_private(c) for c in cidrs):
            out.append(Problem("endpoint-reach", cluster["name"],
                               f"the kubeconfig uses the public endpoint {endpoint} but the only authorized networks "
                               f"are private ranges ({', '.join(cidrs)}), which never reach a public address"))
    return out


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


def duration_s(text: str | None, default: int) -> float:
    """A Pulumi `customTimeouts` duration (`1h30m`, `45m`, `600s`) in seconds."""
    if not text:
        return default
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in _DURATION.findall(str(text)))


def pod_start_budget_s(template: Mapping[str, Any]) -> int:
    """How long the pod's own probes allow it to take to become Ready: the startup probe's full allowance
    (initialDelaySeconds + periodSeconds x failureThreshold; defaults 0, 10, 3) plus the first readiness
    period, for the slowest container."""
    budget = 0
    for c in (template.get("spec") or {}).get("containers") or []:
        start = c.get("startupProbe")
        s = (start.get("initialDelaySeconds", 0) + start.get("periodSeconds", 10) * start.get("failureThreshold", 3)) \
            if start else 0
        ready = c.get("readinessProbe")
        r = (ready.get("initialDelaySeconds", 0) + ready.get("periodSeconds", 10)) if ready else 0
        budget = max(budget, s + r)
    return budget


def _max_replicas(model: InstallModel, obj: Mapping[str, Any]) -> int:
    meta = obj.get("metadata") or {}
    for other in model.all_objects:
        target = (other.get("spec") or {}).get("scaleTargetRef") or {}
        if other.get("kind") in ("ScaledObject", "HorizontalPodAutoscaler") and target.get("name") == meta.get("name") \
                and (other.get("metadata") or {}).get("namespace") == meta.get("namespace"):
            spec = other["spec"]
            return int(spec.get("maxReplicaCount") or spec.get("maxReplicas") or 1)
    return int((obj.get("spec") or {}).get("replicas", 1))


def _surge(obj: Mapping[str, Any], replicas: int) -> int:
    strategy = (obj.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return max(replicas, 1)
    rolling = strategy.get("rollingUpdate") or {}
    surge = rolling.get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        surge = math.ceil(replicas * int(surge[:-1]) / 100)
    unavailable = rolling.get("maxUnavailable", "25%")
    if isinstance(unavailable, str) and unavailable.endswith("%"):
        unavailable = math.floor(replicas * int(unavailable[:-1]) / 100)
    return max(int(surge) + int(unavailable), 1)


def check_rollout_waits(model: InstallModel) -> list[Problem]:
    """Pulumi (and Helm) wait at least as long as the workloads' own probes allow them to start.

    A shorter wait fails the `pulumi up` while the pod is still legitimately starting (and an `atomic`
    Helm release rolls back). Create: pods start in parallel, one start. Update: a rolling update replaces
    `maxSurge + maxUnavailable` pods at a time, up to the autoscaler's maximum.
    """
    out = []
    for planned in model.planned:
        obj = planned.obj
        if obj.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        if str(((obj.get("metadata") or {}).get("annotations") or {}).get(SKIP_AWAIT)).lower() == "true":
            continue
        budget = pod_start_budget_s((obj.get("spec") or {}).get("template") or {})
        timeouts = (model.resources[planned.urn].get("options") or {}).get("customTimeouts") or {}
        replicas = int((obj.get("spec") or {}).get("replicas", 1))
        create = duration_s(timeouts.get("create"), PULUMI_DEFAULT_WAIT_S)
        if replicas > 0 and create < budget:
            out.append(Problem("rollout-wait", planned.ref, f"Pulumi waits {create:.0f} s to create it but its probes "
                                                            f"allow {budget} s to start (set customTimeouts.create)"))
        top = _max_replicas(model, obj)
        update_budget = math.ceil(top / _surge(obj, top)) * budget
        update = duration_s(timeouts.get("update"), PULUMI_DEFAULT_WAIT_S)
        if top > 0 and update < update_budget:
            out.append(Problem("rollout-wait", planned.ref,
                               f"Pulumi waits {update:.0f} s for an update but replacing up to {top} pod(s) allows "
                               f"{update_budget} s (set customTimeouts.update)"))
    for release, urn in sorted(model.releases.items()):
        inputs = model.resources[urn]["inputs"]
        timeout = int(inputs.get("timeout") or HELM_RELEASE_DEFAULT_TIMEOUT_S)
        for c in model.charts:
            template = pod_template(c.obj)
            if c.release != release or template is None or c.obj.get("kind") == "Pod":
                continue
            budget = pod_start_budget_s(template)
            if budget > timeout:
                out.append(Problem("rollout-wait", c.ref, f"the release waits {timeout} s but this workload's probes "
                                                          f"allow {budget} s to start"))
    return out


def sr2_exempt_namespaces(model: InstallModel) -> set[str] | None:
    """The namespaces the rendered SR2 admission policy skips: `kubernetes.io/metadata.name NotIn [...]` in the
    policy's `matchConstraints` or its binding's `matchResources` (None: no SR2 policy is rendered)."""
    policies = [o for o in model.all_objects
                if o.get("kind") == "ValidatingAdmissionPolicy" and "nvidia.com" in str(o.get("spec"))]
    if not policies:
        return None
    names = {p["metadata"]["name"] for p in policies}
    selectors = [((p.get("spec") or {}).get("matchConstraints") or {}).get("namespaceSelector") for p in policies]
    selectors += [(((o.get("spec") or {}).get("matchResources") or {}).get("namespaceSelector"))
                  for o in model.all_objects if o.get("kind") == "ValidatingAdmissionPolicyBinding"
                  and (o.get("spec") or {}).get("policyName") in names]
    return {v for selector in selectors if selector for e in selector.get("matchExpressions") or []
            if e.get("key") == "kubernetes.io/metadata.name" and e.get("operator") == "NotIn"
            for v in e.get("values") or []}


def _setting(inputs: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = inputs
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def check_exemptions_vs_addons(model: InstallModel) -> list[Problem]:
    """Every namespace an enabled GKE add-on runs pods in is exempt from SR2's admission (and Kyverno's
    webhooks, which take the same list): the platform must not gate Google's own controllers, whose pods it
    cannot label, and a fail-closed webhook outage must not stop them."""
    exempt = sr2_exempt_namespaces(model)
    if exempt is None:
        return []
    out = []
    for cluster in model.of_type(CLUSTER):
        for path, namespaces in GKE_ADDON_NAMESPACES.items():
            if _setting(cluster["inputs"], path):
                out += [Problem("addon-exemptions", f"namespace {ns}", f"{'.'.join(path)} is on, so GKE runs pods in "
                                                                       f"{ns}, but SR2's exemptions do not name it")
                        for ns in namespaces if ns not in exempt]
    return out


def check_api_server_accepts(model: InstallModel) -> list[Problem]:
    """The API server accepts every workload as rendered: its selector selects its own pod template
    (apps/v1 validation refuses "selector does not match template labels", and an `atomic` release rolls
    back), and no rendered mapping repeats a key (only the last value reaches the API server, which is how
    a values map silently overrides a selector key)."""
    from llmp.verify.manifests.workloads import selector_findings

    out = [Problem("api-server-accepts", f"{d['object_id']} (chart release {release})",
                   f"{d['template']} renders key {d['key']!r} twice in one mapping (line {d['line']}); the last "
                   "value wins") for release, d in model.duplicate_keys]
    subjects = [(p.ref, p.obj) for p in model.planned] + [(c.ref, c.obj) for c in model.charts]
    for ref, obj in subjects:
        out += [Problem("api-server-accepts", ref, f.message) for f in selector_findings([("", obj)])]
    return out


CHECKS = (
    ("api-server-accepts", check_api_server_accepts),
    ("crd-order", check_crd_order),
    ("crd-ownership", check_crd_ownership),
    ("webhook-order", check_webhook_order),
    ("iam-order", check_iam_order),
    ("control-plane-reach", check_control_plane_reachability),
    ("endpoint-reach", check_endpoint_reachability),
    ("rollout-wait", check_rollout_waits),
    ("addon-exemptions", check_exemptions_vs_addons),
)
