"""What the rendered objects expose outside the cluster, and whether it is LiteLLM's API port and nothing else.

Shared by the CrossGuard rule `edge-only-litellm-exposed` (policy/rules/tenant_edge.py) and `llmp verify`'s
edge proof (llmp/verify/edge.py). An *exposure* is anything a client outside the pod network can connect
through:

- a Service of type LoadBalancer or NodePort, or with `externalIPs` (any type);
- an Ingress (GKE builds an external Application Load Balancer for one);
- a Gateway whose class is implemented by a cloud load balancer (every class but the in-cluster ones in
  `IN_CLUSTER_GATEWAY_CLASSES`): its listeners expose whatever its routes send to;
- the Service Istio's Gateway deployment controller *generates* for a Gateway of class `istio`. That Service
  is not among the program's objects, so it is modelled here from the pinned istiod 1.29.2 source
  (pilot/pkg/config/kube/gateway/deploymentcontroller.go, `configureIstioGateway`, and the chart's
  files/kube-gateway.yaml): its type is the Gateway's *metadata* annotation `networking.istio.io/service-type`
  if present, else the class default `LoadBalancer` (an annotation under `spec.infrastructure` does not
  count); a class-defaults overlay (istiod `gatewayClasses.<class>.service`, rendered into a ConfigMap
  labelled `gateway.istio.io/defaults-for-class`) or a `spec.infrastructure.parametersRef` ConfigMap's
  `service` overlay is applied on top; its name is `<gateway>-<class>` unless `gateway.istio.io/name-override`;
  its ports are 15021 (status) and each listener's; a Gateway with a non-IP address or several addresses is
  not deployed (`IsManaged`).

Each exposure must target only LiteLLM: the Service's selector picks exactly LiteLLM's Deployment in the
tenant gateway namespace and every port leads to LiteLLM's port; a route behind an exposed listener sends
only to LiteLLM's Service on that port. Anything else is a problem naming the object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from llmplatform import labels, naming, ports

EXPOSING_SERVICE_TYPES = ("LoadBalancer", "NodePort")
IN_CLUSTER_GATEWAY_CLASSES = ("istio",)
"""Gateway classes whose data plane is pods behind a Service the controller generates (modelled below)."""
ISTIO_SERVICE_TYPE = "networking.istio.io/service-type"
ISTIO_NAME_OVERRIDE = "gateway.istio.io/name-override"
ISTIO_DEFAULT_SERVICE_TYPE = "LoadBalancer"
"""istiod 1.29.2 `getClassInfos`: the `istio` class's `defaultServiceType`."""
ISTIO_STATUS_PORT = 15021
ISTIO_CLASS_DEFAULTS_LABEL = "gateway.istio.io/defaults-for-class"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute")
LITELLM_NAME = "litellm"
"""LiteLLM's Deployment and Service name (llmplatform.gateway.workloads.LITELLM)."""
LITELLM_PORTS = (ports.LITELLM_HTTP, "http")
"""LiteLLM's port, by number or by its container port's name."""
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod")


@dataclass(frozen=True)
class Exposure:
    """One way in from outside the cluster, and what it reaches."""

    what: str
    """`Service ns/name (LoadBalancer)`, `Gateway ns/name listener https`, ..."""
    problems: tuple[str, ...]
    """Empty: it reaches LiteLLM's API port and nothing else."""


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _ns(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("namespace") or "default")


def _ref(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')} {_ns(obj)}/{_meta(obj).get('name')}"


def _group(obj: Mapping[str, Any]) -> str:
    api = str(obj.get("apiVersion") or "")
    return api.rpartition("/")[0] if "/" in api else ""


def _pod_labels(obj: Mapping[str, Any]) -> dict[str, str]:
    if obj.get("kind") == "Pod":
        return dict(_meta(obj).get("labels") or {})
    template = (obj.get("spec") or {}).get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})


def _is_litellm(workload: Mapping[str, Any]) -> bool:
    return (workload.get("kind") == "Deployment" and _ns(workload) == naming.NS_TENANT_GATEWAY
            and _meta(workload).get("name") == LITELLM_NAME
            and _pod_labels(workload).get(labels.ROLE) == labels.ROLE_TENANT_GATEWAY)


def _selected(selector: Mapping[str, str], namespace: str, objects: Iterable[Mapping[str, Any]]) -> list[Mapping]:
    """The workloads of `namespace` whose pods a Service selector picks."""
    return [o for o in objects if o.get("kind") in WORKLOAD_KINDS and _ns(o) == namespace
            and all(_pod_labels(o).get(k) == v for k, v in selector.items())]


def _shown(value: Any) -> Any:
    """A port as written: the policy engine's gRPC Struct turns every number into a float (6379.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _service_problems(service: Mapping[str, Any], objects: list[Mapping[str, Any]], how: str) -> list[str]:
    """An exposed Service reaches LiteLLM's port only: its selector picks LiteLLM's Deployment alone."""
    spec = service.get("spec") or {}
    selector = spec.get("selector") or {}
    where = f"{_ref(service)} ({how})"
    if not selector:
        return [f"{where} has no selector: its endpoints are whatever someone writes, not LiteLLM"]
    picked = _selected(selector, _ns(service), objects)
    out = []
    others = [_ref(w) for w in picked if not _is_litellm(w)]
    if others:
        out.append(f"{where} reaches {', '.join(sorted(others))}: only LiteLLM may be exposed")
    if not picked:
        out.append(f"{where} selects no rendered workload ({dict(sorted(selector.items()))}): only LiteLLM may be exposed")
    for port in spec.get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        if target not in LITELLM_PORTS:
            out.append(f"{where} port {_shown(port.get('port'))} -> {_shown(target)}: only LiteLLM's API port "
                       f"({ports.LITELLM_HTTP}) may be exposed")
    return out


def class_defaults(objects: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Gateway class -> its istiod defaults overlay per kind (`service`, `deployment`, ...), from the rendered
    `istio-<rev>-gatewayclass-<class>` ConfigMaps (istiod values `gatewayClasses`)."""
    out: dict[str, dict[str, Any]] = {}
    for obj in objects:
        cls = (_meta(obj).get("labels") or {}).get(ISTIO_CLASS_DEFAULTS_LABEL)
        if obj.get("kind") == "ConfigMap" and cls:
            out[str(cls)] = {k: yaml.safe_load(v) if isinstance(v, str) else v
                             for k, v in (obj.get("data") or {}).items()}
    return out


def _overlay_type(overlay: Any) -> str | None:
    spec = (overlay or {}).get("spec") if isinstance(overlay, Mapping) else None
    value = (spec or {}).get("type") if isinstance(spec, Mapping) else None
    return str(value) if value else None


def istio_generated_service(gateway: Mapping[str, Any], objects: list[Mapping[str, Any]],
                            defaults: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any] | None, list[str]]:
    """The Service istiod 1.29.2 creates for an `istio`-class Gateway (see the module docstring), and what
    could not be modelled. None: istiod deploys nothing for it (addresses name an existing deployment)."""
    spec = gateway.get("spec") or {}
    cls = str(spec.get("gatewayClassName"))
    addresses = spec.get("addresses") or []
    if len(addresses) > 1 or (addresses and addresses[0].get("type") not in (None, "IPAddress")):
        return None, []
    annotations = _meta(gateway).get("annotations") or {}
    service_type = str(annotations.get(ISTIO_SERVICE_TYPE, ISTIO_DEFAULT_SERVICE_TYPE))
    problems = []
    service_type = _overlay_type((defaults.get(cls) or {}).get("service")) or service_type
    params = (spec.get("infrastructure") or {}).get("parametersRef")
    if params:
        cm = next((o for o in objects if o.get("kind") == "ConfigMap" and _ns(o) == _ns(gateway)
                   and _meta(o).get("name") == params.get("name")), None)
        if params.get("kind") != "ConfigMap" or params.get("group", "") != "" or cm is None:
            problems.append(f"{_ref(gateway)}: infrastructure.parametersRef {params} is not a rendered ConfigMap; "
                            "the Service Istio generates cannot be modelled")
        else:
            raw = (cm.get("data") or {}).get("service")
            service_type = _overlay_type(yaml.safe_load(raw) if isinstance(raw, str) else raw) or service_type
    name = annotations.get(ISTIO_NAME_OVERRIDE) or f"{_meta(gateway).get('name')}-{cls}"
    listener_ports = [{"name": "status-port", "port": ISTIO_STATUS_PORT}]
    listener_ports += [{"name": str(lst.get("name")), "port": lst.get("port")} for lst in spec.get("listeners") or []]
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": _ns(gateway),
                            "annotations": {"llmplatform.io/modelled-from": _ref(gateway)}},
               "spec": {"type": service_type, "ports": listener_ports,
                        "selector": {GATEWAY_NAME_LABEL: _meta(gateway).get("name")}}}
    return service, problems


def _attached_routes(gateway: Mapping[str, Any], objects: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    name, ns = _meta(gateway).get("name"), _ns(gateway)
    return [r for r in objects if r.get("kind") in ROUTE_KINDS and any(
        p.get("kind", "Gateway") == "Gateway" and p.get("name") == name and p.get("namespace", _ns(r)) == ns
        for p in (r.get("spec") or {}).get("parentRefs") or [])]


def _backend_problems(route: Mapping[str, Any], where: str) -> list[str]:
    out = []
    rules = (route.get("spec") or {}).get("rules") or []
    for rule in rules:
        for ref in rule.get("backendRefs") or []:
            ok = (ref.get("kind", "Service") == "Service" and ref.get("group", "") == ""
                  and ref.get("name") == LITELLM_NAME and ref.get("namespace", _ns(route)) == naming.NS_TENANT_GATEWAY
                  and ref.get("port") == ports.LITELLM_HTTP)
            if not ok:
                out.append(f"{where}: {_ref(route)} sends to {ref.get('kind', 'Service')} "
                           f"{ref.get('namespace', _ns(route))}/{ref.get('name')}:{ref.get('port')}; only LiteLLM's "
                           f"Service on {ports.LITELLM_HTTP} may be behind an exposed listener")
    return out


def _ingress_problems(ingress: Mapping[str, Any]) -> list[str]:
    spec = ingress.get("spec") or {}
    backends = [spec.get("defaultBackend")] if spec.get("defaultBackend") else []
    for rule in spec.get("rules") or []:
        backends += [p.get("backend") for p in (rule.get("http") or {}).get("paths") or []]
    out = []
    for b in backends:
        svc = (b or {}).get("service") or {}
        port = (svc.get("port") or {}).get("number")
        if _ns(ingress) != naming.NS_TENANT_GATEWAY or svc.get("name") != LITELLM_NAME or port != ports.LITELLM_HTTP:
            out.append(f"{_ref(ingress)} sends to {_ns(ingress)}/{svc.get('name')}:{port}; only LiteLLM's Service "
                       f"on {ports.LITELLM_HTTP} may be exposed")
    return out


def exposures(objects: Iterable[Mapping[str, Any]],
              defaults: Mapping[str, Mapping[str, Any]] | None = None) -> list[Exposure]:
    """Every way in from outside the cluster among `objects` (Istio's generated Services modelled), each with
    its problems. `defaults`: istio class overlays; None reads them from the objects (`class_defaults`)."""
    objs = list(objects)
    defaults = class_defaults(objs) if defaults is None else defaults
    out: list[Exposure] = []
    services = [o for o in objs if o.get("kind") == "Service" and _group(o) == ""]
    for gw in (o for o in objs if o.get("kind") == "Gateway" and _group(o) == "gateway.networking.k8s.io"):
        cls = str((gw.get("spec") or {}).get("gatewayClassName"))
        if cls in IN_CLUSTER_GATEWAY_CLASSES:
            generated, problems = istio_generated_service(gw, objs, defaults)
            if problems:
                out.append(Exposure(f"{_ref(gw)} (Istio-generated Service)", tuple(problems)))
            if generated is not None:
                services.append(generated)
            continue
        for listener in (gw.get("spec") or {}).get("listeners") or []:
            where = f"{_ref(gw)} listener {listener.get('name')} (class {cls}: a cloud load balancer)"
            problems = [p for r in _attached_routes(gw, objs) for p in _backend_problems(r, where)]
            out.append(Exposure(where, tuple(problems)))
    for svc in services:
        spec = svc.get("spec") or {}
        kind = str(spec.get("type") or "ClusterIP")
        hows = ([kind] if kind in EXPOSING_SERVICE_TYPES else []) + (["externalIPs"] if spec.get("externalIPs") else [])
        if not hows:
            continue
        modelled = (_meta(svc).get("annotations") or {}).get("llmplatform.io/modelled-from")
        how = " + ".join(hows) + (f", generated by Istio for {modelled}" if modelled else "")
        if modelled:
            problems = [f"{_ref(svc)} ({how}) reaches the gateway pods of {modelled}: only LiteLLM may be exposed; "
                        f"annotate the Gateway's metadata with {ISTIO_SERVICE_TYPE}: ClusterIP"]
        else:
            problems = _service_problems(svc, objs, how)
        out.append(Exposure(f"{_ref(svc)} ({how})", tuple(problems)))
    for ing in (o for o in objs if o.get("kind") == "Ingress"):
        out.append(Exposure(_ref(ing), tuple(_ingress_problems(ing))))
    return out


def exposure_problems(objects: Iterable[Mapping[str, Any]],
                      defaults: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Every problem of every exposure (empty: only LiteLLM's API port is exposed, if anything)."""
    return [p for e in exposures(objects, defaults) for p in e.problems]
