"""Local fakes for the validation kit: OpenAI-compatible model-server pods, a gateway that picks a pod
like the endpoint picker does (least requests in flight), and a Kubernetes API server that reports
those pods, a GPU node and the Deployment, and restarts the Deployment when it is patched.

Everything listens on 127.0.0.1 (ports chosen by the OS) and runs in daemon threads.

Pod behaviours, to make criteria fail on purpose:
- `delay_s`: seconds between streamed chunks (a slow pod);
- `fail`: answer every completion with HTTP 500;
- killing a pod (`FakeCluster.kill`) cuts its open streams mid-way and refuses new connections.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY = "fake-model-key"
KUBE_TOKEN = "fake-kube-token"
MODEL = "qwen2.5-1.5b-instruct"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-stream is what several tests do on purpose


def _serve(handler: type[BaseHTTPRequestHandler], owner: Any) -> _Server:
    server = _Server(("127.0.0.1", 0), handler)
    server.owner = owner  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def _json(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    raw = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(raw)


# --- model-server pods ---------------------------------------------------------------------------


@dataclass
class FakePod:
    name: str
    ip: str
    delay_s: float = 0.004
    chunks: int = 4
    fail: bool = False
    served: int = 0
    killed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: _Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    def start(self) -> FakePod:
        self.server = _serve(_PodHandler, self)
        return self

    def kill(self) -> None:
        """Cut every open stream and stop listening (a pod deleted without draining)."""
        self.killed.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _PodHandler(BaseHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass

    @property
    def pod(self) -> FakePod:
        return self.server.owner  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/metrics":
            text = f'vllm:request_success_total{{finished_reason="stop",model_name="{MODEL}"}} {float(self.pod.served)}\n'
            raw = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        else:
            _json(self, 200, {"status": "ok"})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            _json(self, 401, {"error": "bad key"})
            return
        if self.pod.fail:
            _json(self, 500, {"error": {"message": "fake pod failure"}})
            return
        if not body.get("stream"):
            time.sleep(self.pod.delay_s * self.pod.chunks)
            with self.pod.lock:
                self.pod.served += 1
            _json(self, 200, {"id": "x", "object": "chat.completion", "model": body.get("model"),
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                           "finish_reason": "stop"}]})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i in range(self.pod.chunks):
            if self.pod.killed.is_set():
                self._cut()
                return
            time.sleep(self.pod.delay_s)
            last = i == self.pod.chunks - 1
            event = {"choices": [{"index": 0, "delta": {"content": f"t{i} "}, "finish_reason": "stop" if last else None}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        if self.pod.killed.is_set():
            self._cut()
            return
        self.wfile.write(b"data: [DONE]\n\n")
        with self.pod.lock:
            self.pod.served += 1

    def _cut(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True


# --- the cluster: pods, a gateway, a Deployment that can be restarted -----------------------------


class FakeCluster:
    """Pods behind one gateway, plus the Deployment's rollout state machine."""

    def __init__(self, replicas: int = 2, *, strategy: str = "RollingUpdate", max_unavailable: int = 0,
                 rollout: str = "graceful", start_delay_s: float = 0.15, served_by_header: bool = True,
                 **pod_kwargs: Any) -> None:
        self.lock = threading.RLock()
        self.pods: dict[str, FakePod] = {}
        self.ready: list[str] = []
        self.in_flight: dict[str, int] = {}
        self.gateway_served: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._rr = itertools.count()
        self.strategy, self.max_unavailable, self.rollout_mode = strategy, max_unavailable, rollout
        self.start_delay_s = start_delay_s
        self.served_by_header = served_by_header
        self.generation = self.observed_generation = 1
        self.replicas = replicas
        self.pod_kwargs = pod_kwargs
        self.rollouts = 0
        for _ in range(replicas):
            self.mark_ready(self.add_pod())
        self.gateway = _serve(_GatewayHandler, self)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.server_address[1]}"

    def add_pod(self, **overrides: Any) -> str:
        n = next(self._ids)
        name = f"vllm-qwen-1-5b-{n:03d}"
        pod = FakePod(name=name, ip=f"10.42.0.{n}", **{**self.pod_kwargs, **overrides}).start()
        with self.lock:
            self.pods[name] = pod
            self.in_flight[name] = 0
        if self.closed:
            self.kill(name)
        return name

    def mark_ready(self, name: str) -> None:
        with self.lock:
            self.ready.append(name)

    def drain(self, name: str, timeout_s: float = 10.0) -> None:
        """Stop routing to the pod and wait until its in-flight requests have finished."""
        with self.lock:
            if name in self.ready:
                self.ready.remove(name)
        deadline = time.monotonic() + timeout_s
        while self.in_flight.get(name, 0) and time.monotonic() < deadline:
            time.sleep(0.01)

    def kill(self, name: str) -> None:
        with self.lock:
            if name in self.ready:
                self.ready.remove(name)
            pod = self.pods.pop(name, None)
        if pod is not None:
            pod.kill()

    def pick(self) -> FakePod | None:
        with self.lock:
            if not self.ready:
                return None
            offset = next(self._rr)
            order = self.ready[offset % len(self.ready):] + self.ready[: offset % len(self.ready)]
            name = min(order, key=lambda n: self.in_flight[n])
            self.in_flight[name] += 1
            return self.pods[name]

    def release(self, name: str) -> None:
        with self.lock:
            if name in self.in_flight:
                self.in_flight[name] -= 1

    # the Deployment ------------------------------------------------------------------------
    def restart(self) -> None:
        """What the Deployment controller does after a pod-template change, per strategy."""
        with self.lock:
            self.generation += 1
            self.observed_generation = self.generation
            self.rollouts += 1
            old = list(self.pods)
            self.old = set(old)
        threading.Thread(target=self._roll, args=(old,), daemon=True).start()

    def _roll(self, old: list[str]) -> None:
        if self.closed:
            return
        if self.strategy == "Recreate":
            for name in old:
                self.kill(name)
            time.sleep(self.start_delay_s)
            for _ in old:
                self.mark_ready(self.add_pod())
        else:
            for name in old:
                if self.closed:  # the test is over; a rollout thread must not outlive its cluster
                    return
                new = self.add_pod()
                time.sleep(self.start_delay_s)  # the new pod loads and becomes Ready
                self.mark_ready(new)
                if self.rollout_mode == "graceful":
                    self.drain(name)
                self.kill(name)

    old: set[str] = set()
    """Pods of the previous template while a restart runs."""

    def deployment(self) -> dict[str, Any]:
        with self.lock:
            total = len(self.pods)
            updated = sum(1 for n in self.pods if n not in self.old)
            strategy: dict[str, Any] = {"type": self.strategy}
            if self.strategy == "RollingUpdate":
                strategy["rollingUpdate"] = {"maxUnavailable": self.max_unavailable, "maxSurge": 1}
            return {
                "metadata": {"name": "vllm-qwen-1-5b", "namespace": "llm-serving", "generation": self.generation},
                "spec": {"replicas": self.replicas, "strategy": strategy},
                "status": {"observedGeneration": self.observed_generation, "replicas": total,
                           "updatedReplicas": updated,
                           "availableReplicas": len(self.ready)},
            }

    def pod_objects(self) -> list[dict[str, Any]]:
        with self.lock:
            return [pod_object(p.name, p.ip, ready=p.name in self.ready) for p in self.pods.values()]

    closed = False

    def close(self) -> None:
        self.closed = True
        self.gateway.shutdown()
        self.gateway.server_close()
        for name in list(self.pods):
            self.kill(name)


class _GatewayHandler(BaseHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        cluster: FakeCluster = self.server.owner  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        pod = cluster.pick()
        if pod is None:
            _json(self, 503, {"error": "no ready endpoint"})
            return
        try:
            conn = http.client.HTTPConnection("127.0.0.1", pod.port, timeout=30)
            try:
                conn.request("POST", self.path, body=raw, headers={
                    "Content-Type": "application/json", "Authorization": self.headers.get("Authorization", "")})
                resp = conn.getresponse()
            except OSError:
                _json(self, 502, {"error": f"upstream {pod.name} unreachable"})
                return
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
            if cluster.served_by_header:
                self.send_header("X-Served-By", pod.name)
            self.end_headers()
            while True:
                try:
                    chunk = resp.read1(65536)
                except (OSError, http.client.HTTPException):
                    chunk = b""
                if not chunk:
                    break
                self.wfile.write(chunk)
                self.wfile.flush()
            conn.close()
        finally:
            cluster.release(pod.name)


# --- Kubernetes objects and a fake API server ----------------------------------------------------

NODE_NAME = "vast-node-1"
SHARED_PRODUCT = "NVIDIA-GeForce-RTX-4090-SHARED"


def node_object(*, product: str = SHARED_PRODUCT, physical: int = 2, replicas: int = 2,
                allocatable: int | None = None) -> dict[str, Any]:
    alloc = physical * replicas if allocatable is None else allocatable
    return {
        "metadata": {"name": NODE_NAME, "labels": {
            "nvidia.com/gpu.product": product, "nvidia.com/gpu.count": str(physical),
            "nvidia.com/gpu.replicas": str(replicas), "nvidia.com/gpu.sharing-strategy": "time-slicing",
            "nvidia.com/gpu.memory": "24564", "nvidia.com/cuda.driver-version.full": "570.153.02"}},
        "status": {"capacity": {"cpu": "32", "memory": "131072Mi", "nvidia.com/gpu": str(alloc)},
                   "allocatable": {"cpu": "32", "memory": "131072Mi", "nvidia.com/gpu": str(alloc)},
                   "nodeInfo": {"kubeletVersion": "v1.34.9+k3s1", "osImage": "Ubuntu 22.04.5 LTS",
                                "kernelVersion": "5.15.0-139-generic",
                                "containerRuntimeVersion": "containerd://2.2.5-k3s2", "architecture": "amd64"}},
    }


def pod_object(name: str, ip: str, *, ready: bool = True, memory_utilization: str = "0.45",
               runtime_class: str | None = "nvidia", gpus: int = 1, phase: str = "Running") -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": NODE_NAME, "containers": [{
        "name": "vllm", "command": ["vllm", "serve"],
        "args": ["/models/qwen-1-5b", "--gpu-memory-utilization", memory_utilization],
        "resources": {"limits": {"nvidia.com/gpu": str(gpus)}, "requests": {"nvidia.com/gpu": str(gpus)}}}]}
    if runtime_class:
        spec["runtimeClassName"] = runtime_class
    return {"metadata": {"name": name, "namespace": "llm-serving",
                         "labels": {"llmplatform.io/role": "model-server", "llmplatform.io/model": "qwen-1-5b"}},
            "spec": spec,
            "status": {"phase": phase, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class FakeKubeApi:
    """Just the API paths the validation kit uses, backed by a FakeCluster. Bearer token required."""

    def __init__(self, cluster: FakeCluster, *, nodes: list[dict[str, Any]] | None = None) -> None:
        self.cluster = cluster
        self.nodes = nodes if nodes is not None else [node_object()]
        self.patches: list[dict[str, Any]] = []
        self.server = _serve(_KubeHandler, self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self) -> str:
        return (f"apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n"
                f"    server: {self.url}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: fake}}\n"
                f"users:\n- name: fake\n  user:\n    token: {KUBE_TOKEN}\n")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _KubeHandler(BaseHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass

    @property
    def api(self) -> FakeKubeApi:
        return self.server.owner  # type: ignore[attr-defined]

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {KUBE_TOKEN}":
            return True
        _json(self, 401, {"kind": "Status", "message": "Unauthorized"})
        return False

    def do_GET(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        cluster = self.api.cluster
        if url.path == "/api/v1/nodes":
            _json(self, 200, {"kind": "NodeList", "items": self.api.nodes})
        elif parts[:3] == ["api", "v1", "namespaces"] and parts[4:] == ["pods"]:
            selector = parse_qs(url.query).get("labelSelector", [""])[0]
            want = dict(kv.split("=", 1) for kv in selector.split(",") if kv)
            items = [p for p in cluster.pod_objects()
                     if all(p["metadata"]["labels"].get(k) == v for k, v in want.items())]
            _json(self, 200, {"kind": "PodList", "items": items})
        elif parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods" and parts[-2:] == ["proxy", "metrics"]:
            name = parts[5].split(":")[0]
            pod = cluster.pods.get(name)
            if pod is None:
                _json(self, 404, {"message": f"pod {name} not found"})
                return
            conn = http.client.HTTPConnection("127.0.0.1", pod.port, timeout=5)
            conn.request("GET", "/metrics")
            raw = conn.getresponse().read()
            conn.close()
            self.send_response(200)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        elif parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "secrets":
            _json(self, 200, {"data": {"api-key": base64.b64encode(API_KEY.encode()).decode()}})
        elif parts[:4] == ["apis", "apps", "v1", "namespaces"] and parts[5:6] == ["deployments"]:
            _json(self, 200, cluster.deployment())
        else:
            _json(self, 404, {"message": f"fake API does not serve {url.path}"})

    def do_PATCH(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.api.patches.append({"path": self.path, "contentType": self.headers.get("Content-Type"), "body": body})
        self.api.cluster.restart()
        _json(self, 200, self.api.cluster.deployment())


# --- a rollout driver over the fake cluster directly (no API server) -----------------------------


class FakeRolloutDriver:
    """`RolloutDriver` for FakeCluster: restart it and report its state like the API would."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster

    async def strategy(self):  # noqa: ANN201 - returns rollout.StrategyFacts
        from llmp.multigpu.rollout import strategy_of

        return strategy_of(self.cluster.deployment())

    async def trigger(self) -> None:
        self.cluster.restart()

    async def state(self):  # noqa: ANN201 - returns rollout.RolloutState
        from llmp.multigpu.rollout import rollout_state

        return rollout_state(self.cluster.deployment())


@contextmanager
def fake_cluster(replicas: int = 2, **kwargs: Any) -> Iterator[FakeCluster]:
    cluster = FakeCluster(replicas, **kwargs)
    try:
        yield cluster
    finally:
        cluster.close()


@contextmanager
def fake_kube(cluster: FakeCluster, **kwargs: Any) -> Iterator[FakeKubeApi]:
    api = FakeKubeApi(cluster, **kwargs)
    try:
        yield api
    finally:
        api.close()
