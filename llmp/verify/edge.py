"""The tenant edge proof: what is exposed outside the cluster is LiteLLM's API port, and the edge's source
ranges reach that port and nothing else (network-config-analyzer).

Two halves, both must hold:
1. **Inventory** (`llmplatform.controls.tenant_edge.predicates.exposures`, shared with the CrossGuard rule
   `edge-only-litellm-exposed`): every LoadBalancer/NodePort Service, external IP, Ingress and cloud Gateway
   listener among the rendered objects, plus the Services Istio generates for its Gateways (modelled from
   istiod 1.29.2), targets LiteLLM only; `mode: cluster` exposes nothing, `internal`/`public` expose LiteLLM.
2. **Reachability** (enforced tiers): the source ranges the stack's config gives the edge (stack output
   `tenantEdge.sourceRanges`: the client ranges of an internal passthrough load balancer, or Google's proxy
   and health-check ranges of a public Gateway) reach LiteLLM on its port (required), and reach neither
   LiteLLM's other ports nor the inference gateway, vLLM, the endpoint pickers, Postgres, Redis, the
   reconciler or Prometheus on any port (forbidden). The queries are written from the config and the label
   contract, never from the rendered policies, so a widened ipBlock fails them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmplatform import labels, naming, ports
from llmplatform.controls.tenant_edge.predicates import exposures
from llmplatform.k8s.networkpolicy import allow_from, ip_peer, match_labels, network_policy, tcp
from llmp.verify.sr1 import PROMETHEUS_LABELS, Flow, _all_tcp_except, _role, run_flows

if TYPE_CHECKING:
    from llmp.verify.run import Proof, ProofContext

TITLE = "Tenant edge: LiteLLM only (inventory, network-config-analyzer)"

PROTECTED: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("inference gateway", naming.NS_GATEWAY, _role(labels.ROLE_GATEWAY)),
    ("vLLM", naming.NS_SERVING, _role(labels.ROLE_MODEL_SERVER)),
    ("endpoint pickers", naming.NS_SERVING, _role(labels.ROLE_EPP)),
    ("Postgres", naming.NS_TENANT_GATEWAY, _role(labels.ROLE_BUDGET_DB)),
    ("Redis", naming.NS_TENANT_GATEWAY, _role(labels.ROLE_BUDGET_CACHE)),
    ("the tenant reconciler", naming.NS_TENANT_GATEWAY, _role(labels.ROLE_TENANT_RECONCILER)),
    ("Prometheus", naming.NS_MONITORING, match_labels(PROMETHEUS_LABELS)),
)
"""What the edge's source ranges must never reach, on any port."""


def edge_flows(source_ranges: list[str]) -> list[Flow]:
    """The queries for these source ranges (see the module docstring)."""
    tgw = naming.NS_TENANT_GATEWAY
    sources = [ip_peer(c) for c in source_ranges]
    litellm = _role(labels.ROLE_TENANT_GATEWAY)
    shown = ", ".join(source_ranges)
    return [
        Flow("edge-sources-reach-litellm", "required", f"the edge's source ranges ({shown}) reach LiteLLM on "
             f"{ports.LITELLM_HTTP}",
             (network_policy("q-edge-litellm", tgw, litellm, ingress=[allow_from(sources, tcp(ports.LITELLM_HTTP))]),)),
        Flow("edge-sources-litellm-port-only", "forbidden", f"the edge's source ranges reach no other LiteLLM port",
             (network_policy("q-edge-litellm-ports", tgw, litellm, ingress=[
                 allow_from(sources, _all_tcp_except(ports.LITELLM_HTTP))]),)),
        Flow("edge-sources-reach-nothing-else", "forbidden", "the edge's source ranges reach none of: "
             + ", ".join(name for name, _, _ in PROTECTED),
             tuple(network_policy(f"q-edge-{i}", ns, selector, ingress=[allow_from(sources)])
                   for i, (_, ns, selector) in enumerate(PROTECTED))),
    ]


def tenant_edge_proof(ctx: ProofContext) -> Proof:
    """The registry's tenant-edge proof."""
    from llmp.verify.run import FAIL, PASS, Proof

    edge = ctx.outputs.get("tenantEdge") or {"mode": "cluster", "sourceRanges": []}
    mode, ranges = str(edge.get("mode", "cluster")), list(edge.get("sourceRanges") or [])
    found = exposures(ctx.objects)
    problems = [p for e in found for p in e.problems]
    clean = [e.what for e in found if not e.problems]
    if mode == "cluster" and clean:
        problems += [f"tenant_gateway.exposure.mode is cluster, yet {what} exposes LiteLLM" for what in clean]
    if mode != "cluster" and not clean:
        problems.append(f"tenant_gateway.exposure.mode is {mode}, yet nothing exposes LiteLLM")
    data: dict[str, Any] = {"mode": mode, "sourceRanges": ranges, "exposures": [
        {"what": e.what, "problems": list(e.problems)} for e in found]}
    summary = f"mode {mode}: " + (f"{len(found)} exposure(s) ({'; '.join(e.what for e in found)})" if found
                                  else "nothing exposed outside the cluster")
    # Reachability is the NetworkPolicies' to give: where the control plan leaves SR1's network policies dormant,
    # only the inventory half can hold, and the summary says so. Without a recorded plan: prove it.
    decisions = {c.get("control"): c.get("state") for c in (ctx.outputs.get("controlPlan") or {}).get("controls", [])}
    sr1_rendered = decisions.get("sr1-network", "enforced") != "dormant"
    if ranges and sr1_rendered:
        run = run_flows(ctx.objects, edge_flows(ranges), workdir=ctx.build_dir)
        problems += [f"{q.kind} query {q.name} failed: {q.description}\n{q.detail}" for q in run.results if not q.passed]
        problems += [f"analyzer warning treated as failure: {w}" for w in run.warnings]
        data["queries"] = [{"name": q.name, "kind": q.kind, "passed": q.passed, "description": q.description}
                           for q in run.results]
        summary += (f"; {sum(q.passed for q in run.results)}/{len(run.results)} edge queries hold over "
                    f"{run.probe_pods} probe pods")
    elif ranges:
        summary += "; reachability not proved: no NetworkPolicy is rendered (SR1 dormant on this tier)"
    status = FAIL if problems else PASS
    return Proof("tenant-edge", TITLE, status, summary, problems, data)
