"""The validation kit's kubeconfig loading and API client (against the fake API server)."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from llmp.multigpu.kube import KubeApiError, KubeClient, KubeconfigError, load_kubeconfig
from tests.vast.fakes import API_KEY, KUBE_TOKEN, fake_cluster, fake_kube


def kubeconfig(user: dict, server: str = "https://203.0.113.20:41234", cluster: dict | None = None) -> str:
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "clusters": [{"name": "k", "cluster": {"server": server, **(cluster or {})}}],
           "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
           "users": [{"name": "u", "user": user}]}
    return json.dumps(doc, indent=1)


def test_a_token_user_sends_a_bearer_header_and_http_servers_skip_tls() -> None:
    access = load_kubeconfig(kubeconfig({"token": "t0k"}, server="http://127.0.0.1:1"))
    assert access.headers == {"Authorization": "Bearer t0k"} and access.verify is False


def test_a_token_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    access = load_kubeconfig(kubeconfig({"tokenFile": str(tmp_path / "token")}))
    assert access.headers["Authorization"] == "Bearer from-file" and isinstance(access.verify, ssl.SSLContext)


def test_an_exec_plugin_provides_the_token_with_cluster_info(tmp_path: Path) -> None:
    plugin = tmp_path / "auth-plugin"
    plugin.write_text(f"#!{sys.executable}\nimport json, os\ninfo = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
                      "print(json.dumps({'status': {'token': 'exec-' + info['spec']['cluster']['server'][-5:]}}))\n")
    plugin.chmod(0o755)
    access = load_kubeconfig(kubeconfig({"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                   "command": str(plugin), "provideClusterInfo": True}}))
    assert access.headers["Authorization"] == "Bearer exec-41234"


def test_a_missing_exec_plugin_says_how_to_install_it() -> None:
    with pytest.raises(KubeconfigError, match="gcloud components install"):
        load_kubeconfig(kubeconfig({"exec": {"command": "no-such-plugin-xyz",
                                             "installHint": "gcloud components install gke-gcloud-auth-plugin"}}))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_a_client_certificate_from_k3s_style_data_fields_is_loaded(tmp_path: Path) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem"), "-days", "1",
                    "-subj", "/CN=system:admin"], check=True, capture_output=True)
    b64 = lambda p: base64.b64encode((tmp_path / p).read_bytes()).decode()  # noqa: E731
    access = load_kubeconfig(kubeconfig({"client-certificate-data": b64("c.pem"), "client-key-data": b64("k.pem")},
                                        cluster={"certificate-authority-data": b64("c.pem")}))
    assert isinstance(access.verify, ssl.SSLContext) and "Authorization" not in access.headers
    with pytest.raises(KubeconfigError, match="cannot be loaded"):
        load_kubeconfig(kubeconfig({"client-certificate-data": b64("c.pem"),
                                    "client-key-data": base64.b64encode(b"not a key").decode()}))


@pytest.mark.parametrize(("text", "message"), [
    ("/no/such/kubeconfig", "does not exist"),
    ("kind: Pod\nmetadata: {}\n", "kind: Config"),
    (kubeconfig({"token": "t"}).replace('"current-context": "c"', '"current-context": "x"'), "no context named 'x'"),
    (kubeconfig({"token": "t"}, server="203.0.113.20:6443"), "must be an http(s) URL"),
])
def test_unusable_kubeconfigs_are_refused_with_the_field_to_fix(text: str, message: str) -> None:
    with pytest.raises(KubeconfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_kubeconfig(text)


def test_the_client_reads_nodes_pods_deployments_and_secrets_through_the_api() -> None:
    async def go(api):
        async with KubeClient(load_kubeconfig(api.kubeconfig())) as kube:
            nodes = await kube.nodes()
            pods = await kube.pods("llm-serving", {"llmplatform.io/role": "model-server"})
            none = await kube.pods("llm-serving", {"llmplatform.io/role": "nothing"})
            dep = await kube.deployment("llm-serving", "vllm-qwen-1-5b")
            key = await kube.secret_value("llm-serving", "vllm-api-key", "api-key")
            metrics = await kube.pod_metrics("llm-serving", pods[0]["metadata"]["name"], 8000)
            return nodes, pods, none, dep, key, metrics

    with fake_cluster(2) as c, fake_kube(c) as api:
        nodes, pods, none, dep, key, metrics = asyncio.run(go(api))
    assert len(nodes) == 1 and len(pods) == 2 and none == []
    assert dep["spec"]["replicas"] == 2 and key == API_KEY
    assert "vllm:request_success_total" in metrics


def test_an_api_error_carries_its_status() -> None:
    async def go(api):
        text = api.kubeconfig().replace(KUBE_TOKEN, "wrong")
        async with KubeClient(load_kubeconfig(text)) as kube:
            await kube.nodes()

    with fake_cluster(1) as c, fake_kube(c) as api, pytest.raises(KubeApiError) as info:
        asyncio.run(go(api))
    assert info.value.status == 401
