"""The vLLM routes proof on the rendered prod plan: it passes as rendered, and each planted way back to
vLLM's unguarded routes fails it, naming the route and the peer (issue 15, defect 4).

Every plant edits a copy of the objects `llmp plan prod` rendered (the session's `planned` fixture); the
reachability comes from network-config-analyzer over the edited policies, as in `llmp verify`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmplatform import labels, naming, ports
from llmp.plan.render import load_manifests
from llmp.verify import run
from llmp.verify.routes import prove_routes

Objects = list[dict[str, Any]]


@pytest.fixture(scope="module")
def prod_objects(planned) -> Objects:
    return load_manifests(planned("prod") / "manifests")


def _one(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    hits = [o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, (kind, name, len(hits))
    return hits[0]


def _planted(objects: Objects, change: Callable[[Objects], None]) -> Objects:
    out = copy.deepcopy(objects)
    change(out)
    return out


def _model_server_rules(objects: Objects) -> list[dict[str, Any]]:
    return _one(objects, "NetworkPolicy", "sr1-model-server")["spec"]["ingress"]


def reopen_8000_to(role: str | None) -> Callable[[Objects], None]:
    """The pre-fix rule: the endpoint picker (role) or Prometheus (None) may open vLLM's serving port."""
    def change(objects: Objects) -> None:
        for rule in _model_server_rules(objects):
            peer = rule["from"][0]
            names = peer.get("namespaceSelector", {}).get("matchLabels", {}).get(labels.K8S_NS_NAME)
            pod = peer.get("podSelector", {}).get("matchLabels", {})
            if (role and pod.get(labels.ROLE) == role) or (role is None and names == naming.NS_MONITORING):
                rule["ports"].append({"protocol": "TCP", "port": ports.VLLM_HTTP})
    return change


def test_the_rendered_prod_plan_passes_and_lists_every_route_with_its_guard_and_peers(prod_objects):
    result = prove_routes(prod_objects)
    assert result.problems == []
    rows = {(r["method"], r["path"]): r for r in result.rows}
    pause = rows[("POST", "/pause")]
    assert pause["served"] and not pause["guarded"] and pause["ports"] == [ports.VLLM_HTTP]
    assert pause["peers"] == [f"{naming.NS_GATEWAY}/{labels.ROLE_GATEWAY}"] and not pause["gatewayForwards"]
    metrics = rows[("*", "/metrics")]
    assert metrics["ports"] == [ports.VLLM_HTTP, ports.VLLM_METRICS]
    assert f"{naming.NS_SERVING}/{labels.ROLE_EPP}" in metrics["peers"]
    assert rows[("POST", "/v1/chat/completions")]["guarded"] and rows[("POST", "/v1/chat/completions")]["gatewayForwards"]
    assert not rows[("POST", "/reset_prefix_cache")]["served"]  # VLLM_SERVER_DEV_MODE is not set


@pytest.mark.parametrize("role, peer", [
    (labels.ROLE_EPP, f"{naming.NS_SERVING}/{labels.ROLE_EPP}"),
    (None, f"{naming.NS_MONITORING}/prometheus"),
])
def test_port_8000_reopened_to_a_scraper_fails_naming_the_route_and_the_peer(prod_objects, role, peer):
    problems = prove_routes(_planted(prod_objects, reopen_8000_to(role))).problems
    for route in ("POST /invocations", "POST /pause", "POST /inference/v1/generate", "POST /scale_elastic_ep"):
        assert any(p.startswith(route + " ") and p.endswith(f"reachable from {peer}") for p in problems), \
            (route, problems)
    assert not any("GET /health" in p or "/v1/chat/completions" in p for p in problems)


def test_a_gateway_route_that_forwards_more_than_v1_fails_naming_the_route(prod_objects):
    def widen(objects: Objects) -> None:
        route = next(o for o in objects if o.get("kind") == "HTTPRoute")
        route["spec"]["rules"][0]["matches"][0]["path"] = {"type": "PathPrefix", "value": "/"}
    problems = prove_routes(_planted(prod_objects, widen)).problems
    assert any(p.startswith("POST /invocations ") and "forwarded by the inference gateway" in p for p in problems)


def test_dev_mode_in_a_model_server_adds_its_routes_to_the_table(prod_objects):
    def dev_mode(objects: Objects) -> None:
        for o in objects:
            if o.get("kind") == "Deployment" and o["metadata"]["name"].startswith("vllm-"):
                o["spec"]["template"]["spec"]["containers"][0]["env"].append(
                    {"name": "VLLM_SERVER_DEV_MODE", "value": "1"})
    planted = _planted(prod_objects, lambda objs: (dev_mode(objs), reopen_8000_to(labels.ROLE_EPP)(objs)))
    problems = prove_routes(planted).problems
    assert any(p.startswith("POST /reset_prefix_cache ") for p in problems)


def test_a_sidecar_the_proof_cannot_model_fails(prod_objects):
    def swap(objects: Objects) -> None:
        for o in objects:
            if o.get("kind") == "Deployment" and o["metadata"]["name"].startswith("vllm-"):
                o["spec"]["template"]["spec"]["containers"][1]["command"] = ["socat", "TCP-LISTEN:8001", "TCP:localhost:8000"]
    problems = prove_routes(_planted(prod_objects, swap)).problems
    assert any("running a program the proof does not model" in p for p in problems)


def test_the_picker_scraping_the_serving_port_fails(prod_objects):
    def old_flag(objects: Objects) -> None:
        for o in objects:
            if o.get("kind") == "Deployment" and o["metadata"]["labels"].get(labels.ROLE) == labels.ROLE_EPP:
                args = o["spec"]["template"]["spec"]["containers"][0]["args"]
                i = args.index("--model-server-metrics-port")
                del args[i:i + 2]
    problems = prove_routes(_planted(prod_objects, old_flag)).problems
    assert any(p.startswith(f"{naming.NS_SERVING}/{labels.ROLE_EPP} scrapes the model servers' /metrics on port "
                            f"{ports.VLLM_HTTP} but cannot open it") for p in problems), problems


def test_llmp_verify_sr1_fails_on_the_plant_and_names_the_route(prod_objects, tmp_path: Path):
    proof = run.prove_network(_planted(prod_objects, reopen_8000_to(None)), "multi-team", tmp_path)
    assert proof.status == run.FAIL
    assert any(p.startswith("vLLM routes: POST /invocations ") and p.endswith(f"{naming.NS_MONITORING}/prometheus")
               for p in proof.problems)
    assert proof.data["vllmRoutes"]["routes"]
