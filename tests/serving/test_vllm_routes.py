"""The vLLM route record, the metrics sidecar and how the model-server pod wires them.

The record is generated from vLLM 0.14.0's source (`python -m llmplatform.serving.vllm_routes`); where
that source is at hand (`LLMP_VLLM_SRC`: the release wheel or an unpacked tree) the file must equal a
fresh generation, otherwise the checked-in file is the record and that test skips saying so.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from llmplatform import ports
from llmplatform.config import ModelSpec
from llmp.verify import vllm_routes
from llmplatform.serving import routing, vllm, vllm_metrics_proxy
from tests.serving.conftest import capabilities, platform_config

RECORD = vllm_routes.load()
ROUTES = {(r["method"], r["path"]): r for r in RECORD["routes"]}


def test_the_record_is_what_the_pinned_source_generates():
    src = os.environ.get("LLMP_VLLM_SRC")
    if not src or not Path(src).exists():
        pytest.skip("LLMP_VLLM_SRC (the vLLM 0.14.0 wheel or tree) not set: vllm_routes.json is the record")
    assert vllm_routes.generate(Path(src)) == RECORD


def test_the_record_names_the_pinned_release_and_the_key_rule_it_was_read_from():
    assert RECORD["source"]["version"] == "0.14.0" and RECORD["source"]["gitCommit"] == "b17039bcc"
    assert RECORD["guard"]["pathPrefix"] == "/v1" and RECORD["guard"]["exemptMethods"] == ["OPTIONS"]


def test_the_key_guards_the_openai_api_but_not_invocations_generate_or_the_engine_controls():
    for guarded in [("POST", "/v1/chat/completions"), ("POST", "/v1/completions"), ("GET", "/v1/models")]:
        assert ROUTES[guarded]["guarded"], guarded
    for route in [("POST", "/invocations"), ("POST", "/inference/v1/generate"), ("POST", "/pause"),
                  ("POST", "/scale_elastic_ep"), ("POST", "/tokenize"), ("POST", "/v2/rerank")]:
        assert not ROUTES[route]["guarded"] and ROUTES[route]["condition"] == [], route


def test_dev_mode_routes_are_registered_only_when_the_container_sets_dev_mode():
    cond = ROUTES[("POST", "/reset_prefix_cache")]["condition"]
    assert not vllm_routes.condition_holds(cond, {}, [])
    assert not vllm_routes.condition_holds(cond, {"VLLM_SERVER_DEV_MODE": "0"}, [])
    assert vllm_routes.condition_holds(cond, {"VLLM_SERVER_DEV_MODE": "1"}, [])


def test_docs_routes_go_with_disable_fastapi_docs_and_unnamed_conditions_count_as_served():
    docs = ROUTES[("GET", "/openapi.json")]["condition"]
    assert vllm_routes.condition_holds(docs, {}, []) and not vllm_routes.condition_holds(
        docs, {}, ["--disable-fastapi-docs"])
    assert vllm_routes.condition_holds(ROUTES[("POST", "/start_profile")]["condition"], {}, [])


# ---- the metrics sidecar, run as the pod runs it ---------------------------------------------------


class _FakeVllm(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"vllm:num_requests_running 1\n" if self.path == "/metrics" else b"paused"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def proxy():
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeVllm)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    listen = _free_port()
    container = vllm.metrics_container()
    args = [a if a != str(ports.VLLM_HTTP) else str(upstream.server_address[1]) for a in container["args"]]
    args = [a if a != str(ports.VLLM_METRICS) else str(listen) for a in args] + ["--bind", "127.0.0.1"]
    proc = subprocess.Popen([sys.executable, *container["command"][1:], *args])
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{listen}/", timeout=1)
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{listen}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        upstream.shutdown()


def test_the_sidecar_copies_get_metrics_from_vllm(proxy):
    with urllib.request.urlopen(proxy + "/metrics?x=1", timeout=5) as resp:
        assert resp.status == 200 and resp.read() == b"vllm:num_requests_running 1\n"
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")


@pytest.mark.parametrize("path", ["/pause", "/invocations", "/v1/chat/completions", "/metrics/", "/health"])
def test_the_sidecar_answers_404_to_every_other_path(proxy, path):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(proxy + path, timeout=5)
    assert err.value.code == 404


def test_the_sidecar_refuses_every_method_but_get(proxy):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(proxy + "/metrics", data=b"{}", method="POST"), timeout=5)
    assert err.value.code == 501


# ---- the pod and the picker ------------------------------------------------------------------------


def test_the_sidecar_runs_the_proxy_source_from_the_vllm_image_on_the_metrics_port():
    c = vllm.metrics_container()
    assert c["command"] == ["python3", "-c", Path(vllm_metrics_proxy.__file__).read_text()]
    assert c["image"] == vllm.images.VLLM_IMAGE
    assert c["ports"] == [{"name": "metrics", "containerPort": ports.VLLM_METRICS, "protocol": "TCP"}]
    assert c["args"] == ["--listen", str(ports.VLLM_METRICS), "--upstream", str(ports.VLLM_HTTP), "--path", "/metrics"]
    assert c["securityContext"] == vllm.CONTAINER_SECURITY and "limits" in c["resources"]


def _model() -> ModelSpec:
    return ModelSpec.model_validate({"name": "m", "hf_id": "Org/m", "revision": "a" * 40, "served_name": "org-m"})


def test_the_endpoint_picker_scrapes_the_metrics_port_not_the_serving_port():
    model_spec = _model()
    args = routing.epp_args(model_spec, "llm-serving")
    assert args[args.index("--model-server-metrics-port") + 1] == str(ports.VLLM_METRICS)
    pool = routing.inference_pool(model_spec, "llm-serving")
    assert pool["spec"]["targetPorts"] == [{"number": ports.VLLM_HTTP}]  # one target port: the flag applies


def test_the_model_server_pod_has_the_vllm_container_and_the_metrics_sidecar():
    caps = capabilities(platform_config("dev"))
    spec = vllm.deployment(_model(), caps, "llm-serving", queue="gpu")["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["vllm", vllm.METRICS_CONTAINER]
    assert not spec.get("hostNetwork")
