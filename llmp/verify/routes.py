"""vLLM routes proof: every route the pinned vLLM serves, whether its API key guards it, who reaches it.

vLLM 0.14.0 checks its key on `/v1*` only (`llmplatform/serving/vllm_routes.json`, generated from the
release's source), so a peer that reaches its port can call `/invocations`, `/inference/v1/generate`,
`/pause` or `/scale_elastic_ep` without one. This proof reads, from the rendered objects only:

- each model-server pod's vLLM container (image `vllm/vllm-openai`, `vllm serve`): its `--port`, whether a
  key is configured (`--api-key` or `VLLM_API_KEY`), and the environment and options that decide which
  conditional routes it registers (`vllm_routes.condition_holds`);
- every other container port of that pod: the metrics sidecar is modelled from its arguments (it
  forwards GET of its `--path`s to `--upstream`) only when its program is `vllm_metrics_proxy`'s source;
  any other port, a `hostPort` or `hostNetwork` is a failure (nothing here says what it serves);
- who can open each port: network-config-analyzer's connectivity over the rendered NetworkPolicies with
  their egress rules removed (as in the SR1 proof: the model servers' own ingress must hold), for one
  representative pod per namespace and role (`llmp.verify.matrix`);
- what the inference gateway forwards: the path matches of the HTTPRoutes whose backend is an
  InferencePool, the gateway's only way to the model servers.

It fails when a served route that the key does not guard and that is not read-only (`READ_ONLY`) is
reachable by any peer but the inference gateway, or forwarded by the gateway; and when the endpoint
picker or Prometheus cannot read `/metrics` on the port each is configured to scrape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmplatform import labels, naming
from llmp.verify import vllm_routes
from llmplatform.serving import vllm_metrics_proxy

VLLM_IMAGE_REPO = "vllm/vllm-openai"
VLLM_DEFAULT_PORT = 8000
"""`vllm serve --port` default (vllm/entrypoints/openai/cli_args.py, FrontendArgs.port, v0.14.0)."""
READ_ONLY = frozenset({
    ("GET", "/health"), ("GET", "/ping"), ("POST", "/ping"), ("GET", "/metrics"), ("*", "/metrics"),
    ("GET", "/version"), ("GET", "/load"), ("GET", "/is_paused"), ("GET", "/is_sleeping"),
    ("POST", "/is_scaling_elastic_ep"), ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
})
"""Routes that read nothing but liveness, load or the API description (each read in the pinned source:
POST /ping runs the health check, /is_scaling_elastic_ep returns a flag). Every other unguarded route
runs the model (`/invocations`, `/inference/v1/generate`, `/tokenize`, ...) or changes the engine
(`/pause`, `/scale_elastic_ep`, `/reset_prefix_cache`, ...)."""
GATEWAY_SOURCE = f"{naming.NS_GATEWAY}/{labels.ROLE_GATEWAY}"
MODEL_SERVERS = "model servers"
"""The matrix column of the model-server role."""


@dataclass(frozen=True)
class PortServes:
    port: int
    container: str
    routes: frozenset[tuple[str, str]]
    """(method, path) served on this port; method "GET" for what a proxy forwards."""
    keyed: bool
    """The vLLM behind this port checks its key (on the guarded prefix only)."""


@dataclass
class Server:
    workload: str
    port: int
    keyed: bool
    env: dict[str, str]
    args: list[str]
    ports: list[PortServes] = field(default_factory=list)


@dataclass
class RoutesResult:
    rows: list[dict[str, Any]]
    problems: list[str]
    servers: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------- reading the rendered pods


def _pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if obj.get("kind") == "Pod":
        return obj.get("spec") or {}
    if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return None


def _is_vllm(container: Mapping[str, Any]) -> bool:
    image = str(container.get("image", ""))
    words = [*(container.get("command") or []), *(container.get("args") or [])]
    return image.split("@")[0].split(":")[0].endswith(VLLM_IMAGE_REPO) and "serve" in words[:2]


def _option(args: list[str], name: str) -> str | None:
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def _env(container: Mapping[str, Any]) -> dict[str, str]:
    """Literal values; a value from a Secret or ConfigMap counts as set ("1")."""
    return {e["name"]: str(e.get("value", "1" if "valueFrom" in e else "")) for e in container.get("env") or []}


def _proxy_model(container: Mapping[str, Any], upstream_routes: dict[int, PortServes], where: str) -> tuple[list[PortServes], list[str]]:
    """The metrics sidecar's ports and what it forwards, or why it cannot be modelled."""
    command = list(container.get("command") or [])
    source = Path(vllm_metrics_proxy.__file__).read_text()
    if command[:2] != ["python3", "-c"] or len(command) != 3 or command[2] != source:
        return [], [f"{where}: container {container.get('name')} exposes ports {_ports(container)} running a "
                    "program the proof does not model; it cannot say which vLLM routes that port serves"]
    args = [str(a) for a in container.get("args") or []]
    listen, upstream = _option(args, "--listen"), _option(args, "--upstream")
    paths = {args[i + 1] for i, a in enumerate(args[:-1]) if a == "--path"}
    if listen is None or upstream is None or int(upstream) not in upstream_routes:
        return [], [f"{where}: metrics sidecar {container.get('name')} forwards to port {upstream}, which is not "
                    "a vLLM port of this pod"]
    behind = upstream_routes[int(upstream)]
    served = frozenset(("GET", p) for m, p in behind.routes if p in paths and m in ("GET", "*"))
    return [PortServes(int(listen), str(container.get("name")), served, behind.keyed)], []


def _ports(container: Mapping[str, Any]) -> list[int]:
    return [int(p["containerPort"]) for p in container.get("ports") or []]


def model_servers(objects: Iterable[Mapping[str, Any]], record: Mapping[str, Any]) -> tuple[list[Server], list[str]]:
    """Every rendered pod template that runs `vllm serve`, with what each of its ports serves."""
    servers: list[Server] = []
    problems: list[str] = []
    for obj in objects:
        spec = _pod_spec(obj)
        if spec is None:
            continue
        containers = list(spec.get("containers") or [])
        vllms = [c for c in containers if _is_vllm(c)]
        if not vllms:
            continue
        meta = obj.get("metadata") or {}
        where = f"{obj['kind']}/{meta.get('namespace', 'default')}/{meta.get('name')}"
        if spec.get("hostNetwork"):
            problems.append(f"{where}: hostNetwork: NetworkPolicy does not apply to its ports")
        upstream: dict[int, PortServes] = {}
        for c in vllms:
            args = [str(a) for a in [*(c.get("command") or []), *(c.get("args") or [])]]
            env = _env(c)
            port = int(_option(args, "--port") or VLLM_DEFAULT_PORT)
            if _option(args, "--root-path") is not None or env.get("VLLM_API_KEY") == "":
                problems.append(f"{where}: --root-path or an empty VLLM_API_KEY: the key's path rule is not modelled")
            server = Server(where, port, "--api-key" in args or bool(env.get("VLLM_API_KEY")), env, args)
            served = frozenset((r["method"], r["path"]) for r in record["routes"]
                               if vllm_routes.condition_holds(r["condition"], env, args))
            upstream[port] = PortServes(port, str(c.get("name")), served, server.keyed)
            server.ports.append(upstream[port])
            servers.append(server)
        for c in containers:
            if any("hostPort" in p for p in c.get("ports") or []):
                problems.append(f"{where}: container {c.get('name')} has a hostPort, reachable around NetworkPolicy")
            if c in vllms or not _ports(c):
                continue
            extra, why = _proxy_model(c, upstream, where)
            problems += why
            for s in servers[-len(vllms):]:
                s.ports += extra
    return servers, problems


# ---------------------------------------------------------------- who reaches what


def _port_set(cell: str) -> set[int] | None:
    """Ports of a matrix cell ("8000,9000-9002", "all"); None: every port."""
    if cell == "all":
        return None
    out: set[int] = set()
    for part in cell.split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            out.update(range(int(lo), int(hi) + 1))
        elif part.strip().isdigit():
            out.add(int(part))
    return out


def reach(objects: list[dict[str, Any]]) -> dict[str, set[int] | None]:
    """source -> ports of the model servers it can open (None: every port), from network-config-analyzer
    over the rendered policies with their egress removed."""
    from llmp.verify.matrix import connectivity_matrix
    from llmp.verify.sr1 import ingress_only

    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    others = [o for o in objects if o.get("kind") != "NetworkPolicy"]
    matrix = connectivity_matrix(others + ingress_only(policies))
    return {src: _port_set(cell) for (src, dst), cell in matrix.cells.items() if dst == MODEL_SERVERS}


def gateway_forwards(objects: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(type, value) of every path match of an HTTPRoute rule whose backend is an InferencePool; a rule
    without a path match matches every path (Gateway API default PathPrefix /)."""
    out: list[tuple[str, str]] = []
    for obj in objects:
        if obj.get("kind") != "HTTPRoute":
            continue
        for rule in (obj.get("spec") or {}).get("rules") or []:
            if not any(b.get("kind") == "InferencePool" for b in rule.get("backendRefs") or []):
                continue
            for match in rule.get("matches") or [{}]:
                path = match.get("path") or {"type": "PathPrefix", "value": "/"}
                out.append((path.get("type", "PathPrefix"), path.get("value", "/")))
    return out


def _forwarded(path: str, matches: list[tuple[str, str]]) -> bool:
    for kind, value in matches:
        if kind == "Exact" and path == value:
            return True
        if kind == "PathPrefix":
            prefix = value.rstrip("/")
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                return True
        if kind not in ("Exact", "PathPrefix"):
            return True  # a regular expression: not modelled, so taken as matching
    return False


# ---------------------------------------------------------------- scrapers


def _scrape_ports(objects: list[dict[str, Any]]) -> dict[str, int | None]:
    """Who scrapes the model servers on which port: the EPP's `--model-server-metrics-port` (else its pool's
    target port) and Prometheus's model-server job (the container port its relabelling keeps)."""
    out: dict[str, int | None] = {}
    pools = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "InferencePool"}
    for obj in objects:
        spec = _pod_spec(obj)
        meta = obj.get("metadata") or {}
        tmpl_labels = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        if spec is not None and tmpl_labels.get(labels.ROLE) == labels.ROLE_EPP:
            for c in spec.get("containers") or []:
                args = [str(a) for a in c.get("args") or []]
                port = _option(args, "--model-server-metrics-port")
                if port is None:
                    pool = pools.get(_option(args, "--pool-name") or "")
                    targets = ((pool or {}).get("spec") or {}).get("targetPorts") or []
                    port = str(targets[0]["number"]) if targets else None
                out[f"{meta.get('namespace')}/{labels.ROLE_EPP}"] = int(port) if port else None
        text = (obj.get("data") or {}).get("prometheus.yml") if obj.get("kind") == "ConfigMap" else None
        if text:
            for job in (yaml.safe_load(text) or {}).get("scrape_configs") or []:
                keep = {tuple(r.get("source_labels") or []): str(r.get("regex", ""))
                        for r in job.get("relabel_configs") or [] if r.get("action") == "keep"}
                if keep.get(("__meta_kubernetes_pod_label_llmplatform_io_role",)) == labels.ROLE_MODEL_SERVER:
                    port = keep.get(("__meta_kubernetes_pod_container_port_number",), "")
                    out[f"{meta.get('namespace')}/prometheus"] = int(port) if port.isdigit() else None
    return out


# ---------------------------------------------------------------- the proof


def prove_routes(objects: list[dict[str, Any]], *, reachable: dict[str, set[int] | None] | None = None,
                 record: Mapping[str, Any] | None = None) -> RoutesResult:
    """The route table and its problems. `reachable` (source -> ports) defaults to `reach(objects)`."""
    record = record or vllm_routes.load()
    servers, problems = model_servers(objects, record)
    if not servers:
        return RoutesResult([], ["no rendered pod runs `vllm serve`: nothing to prove"], [])
    reachable = reach(objects) if reachable is None else reachable
    matches = gateway_forwards(objects)
    prefix = record["guard"]["pathPrefix"]

    def opens(src: str, port: int) -> bool:
        ports = reachable.get(src, set())
        return ports is None or port in ports

    by_key: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in record["routes"]:
        by_key.setdefault((r["method"], r["path"]), []).append(r)
    rows = []
    for key, entries in by_key.items():
        r = entries[0]
        serving = [p for s in servers for p in s.ports
                   if key in p.routes or (r["method"] == "*" and ("GET", r["path"]) in p.routes)]
        on_ports = sorted({p.port for p in serving})
        served = bool(on_ports)
        guarded_on = {p.port for p in serving if p.keyed and r["path"].startswith(prefix)}
        peers = sorted({src for src in reachable for p in on_ports if opens(src, p)})
        sensitive = key not in READ_ONLY
        row = {"method": r["method"], "path": r["path"], "served": served,
               "condition": " | ".join(" and ".join(("not " if c["negate"] else "") + c["text"] for c in e["condition"])
                                       or "always" for e in entries),
               "guarded": r["guarded"], "ports": on_ports, "peers": peers, "readOnly": not sensitive,
               "gatewayForwards": _forwarded(r["path"], matches)}
        rows.append(row)
        if not served or not sensitive:
            continue
        for p in on_ports:
            if p in guarded_on:
                continue
            for src in sorted(s for s in reachable if opens(s, p)):
                if src == GATEWAY_SOURCE:
                    if row["gatewayForwards"]:
                        problems.append(f"{r['method']} {r['path']} (not guarded by the vLLM key) on port {p} is "
                                        f"forwarded by the inference gateway (HTTPRoute path matches {matches})")
                    continue
                problems.append(f"{r['method']} {r['path']} (not guarded by the vLLM key) on port {p} of the model "
                                f"servers is reachable from {src}")
    for scraper, port in sorted(_scrape_ports(objects).items()):
        serving = {p.port for s in servers for p in s.ports if ("GET", "/metrics") in p.routes
                   or ("*", "/metrics") in p.routes}
        if port is None or port not in serving:
            problems.append(f"{scraper} scrapes the model servers on port {port}, which serves no GET /metrics")
        elif reachable and not opens(scraper, port):
            problems.append(f"{scraper} scrapes the model servers' /metrics on port {port} but cannot open it")
    return RoutesResult(rows, problems, [f"{s.workload} :{s.port}" for s in servers])


def table_lines(result: RoutesResult) -> list[str]:
    """The route table as text (for verify.json readers and the docs)."""
    out = []
    for row in result.rows:
        if not row["served"]:
            continue
        who = ", ".join(row["peers"]) or "nobody"
        out.append(f"{row['method']:6} {row['path']:38} {'key' if row['guarded'] else 'open':4} "
                   f"{'read-only' if row['readOnly'] else 'acts':9} ports {row['ports']} <- {who}")
    return out

