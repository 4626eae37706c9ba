"""A small async Kubernetes API client: what the validation kit reads and patches, nothing more.

Plain httpx against the API server from a kubeconfig (no `kubernetes` package): the current (or a
named) context's server, CA (`certificate-authority[-data]` or `insecure-skip-tls-verify`) and user
(bearer `token`/`tokenFile`, client certificate `client-certificate[-data]` + `client-key[-data]`,
or an `exec` credential plugin such as `gke-gcloud-auth-plugin`). The kubeconfig may be a path or
the text itself, so `--kubeconfig <(pulumi stack output kubeconfig --show-secrets)` works and the
admin key never has to be written to a named file by the user.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used: the message names the field and what would fix it."""


class KubeApiError(RuntimeError):
    """The API server answered with an error status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body[:300]}")
        self.status = status


@dataclass(frozen=True)
class KubeAccess:
    """How to reach one API server: base URL, TLS verification and credentials."""

    server: str
    verify: ssl.SSLContext | bool = True
    headers: dict[str, str] = field(default_factory=dict)
    context: str = ""

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for an `httpx.AsyncClient` that talks to this server as this user."""
        return {"verify": self.verify, "headers": dict(self.headers)}


def _read_kubeconfig(source: str | Path) -> dict[str, Any]:
    text = str(source)
    if "\n" not in text and not text.lstrip().startswith("{"):
        if not Path(text).exists():
            raise KubeconfigError(f"kubeconfig file {text!r} does not exist")
        text = Path(text).read_text()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"kubeconfig is not YAML: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind", "Config") != "Config":
        raise KubeconfigError("kubeconfig must be a `kind: Config` document (a path or its text)")
    return doc


def _named(doc: Mapping[str, Any], section: str, name: str) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if entry.get("name") == name:
            return entry.get(section[:-1]) or {}
    raise KubeconfigError(f"kubeconfig has no {section[:-1]} named {name!r}")


def _pem(data_b64: str | None, path: str | None, what: str) -> bytes | None:
    if data_b64:
        try:
            return base64.b64decode(data_b64)
        except ValueError:
            raise KubeconfigError(f"{what}-data is not base64") from None
    if path:
        return Path(path).expanduser().read_bytes()
    return None


def _exec_credential(spec: Mapping[str, Any], cluster: Mapping[str, Any]) -> dict[str, Any]:
    """Run an exec credential plugin and return its `status` (token or client certificate)."""
    command = spec.get("command")
    if not command:
        raise KubeconfigError("users[].user.exec.command is empty")
    env = {**os.environ, **{e["name"]: e["value"] for e in spec.get("env") or []}}
    info: dict[str, Any] = {"apiVersion": spec.get("apiVersion", "client.authentication.k8s.io/v1"),
                            "kind": "ExecCredential", "spec": {"interactive": False}}
    if spec.get("provideClusterInfo"):
        info["spec"]["cluster"] = {"server": cluster.get("server"),
                                   "certificate-authority-data": cluster.get("certificate-authority-data")}
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    try:
        proc = subprocess.run([command, *(spec.get("args") or [])], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
    except FileNotFoundError:
        hint = spec.get("installHint") or f"install {command} or use a kubeconfig with a token or certificate"
        raise KubeconfigError(f"exec credential plugin {command!r} not found: {hint}") from None
    if proc.returncode != 0:
        raise KubeconfigError(f"exec credential plugin {command!r} failed: {proc.stderr.strip()[:300]}")
    try:
        return json.loads(proc.stdout).get("status") or {}
    except json.JSONDecodeError:
        raise KubeconfigError(f"exec credential plugin {command!r} printed no ExecCredential JSON") from None


def load_kubeconfig(source: str | Path, *, context: str | None = None) -> KubeAccess:
    """Resolve `source` (a path or kubeconfig text) into a `KubeAccess` for `context` (default: current)."""
    doc = _read_kubeconfig(source)
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise KubeconfigError("kubeconfig has no current-context; pass --context")
    ctx = _named(doc, "contexts", ctx_name)
    cluster = _named(doc, "clusters", ctx.get("cluster", ""))
    user = _named(doc, "users", ctx.get("user", "")) if ctx.get("user") else {}
    server = str(cluster.get("server") or "").rstrip("/")
    if not server.startswith(("https://", "http://")):
        raise KubeconfigError(f"clusters[{ctx.get('cluster')!r}].server must be an http(s) URL, got {server!r}")

    headers: dict[str, str] = {}
    cert = _pem(user.get("client-certificate-data"), user.get("client-certificate"), "client-certificate")
    key = _pem(user.get("client-key-data"), user.get("client-key"), "client-key")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(user["tokenFile"]).expanduser().read_text().strip()
    if user.get("exec"):
        status = _exec_credential(user["exec"], cluster)
        token = status.get("token") or token
        if status.get("clientCertificateData"):
            cert = status["clientCertificateData"].encode()
            key = (status.get("clientKeyData") or "").encode()
    if token:
        headers["Authorization"] = f"Bearer {token}"

    if not server.startswith("https://"):
        return KubeAccess(server=server, verify=False, headers=headers, context=ctx_name)
    if cluster.get("insecure-skip-tls-verify"):
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    else:
        ca = _pem(cluster.get("certificate-authority-data"), cluster.get("certificate-authority"),
                  "certificate-authority")
        tls = ssl.create_default_context(cadata=ca.decode()) if ca else ssl.create_default_context()
    if cert and key:
        _load_client_cert(tls, cert, key)
    return KubeAccess(server=server, verify=tls, headers=headers, context=ctx_name)


def _load_client_cert(tls: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl loads certificates only from files: a private folder that lives only as long as the load.
    with tempfile.TemporaryDirectory(prefix="llmp-kube-") as tmp:
        cert_path, key_path = Path(tmp, "client.crt"), Path(tmp, "client.key")
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        try:
            tls.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise KubeconfigError(f"client certificate/key in the kubeconfig cannot be loaded: {exc}") from None


def selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


class KubeClient:
    """`async with KubeClient(access) as kube:` then read and patch objects by API path."""

    def __init__(self, access: KubeAccess, *, timeout_s: float = 30.0) -> None:
        self.access = access
        self._client = httpx.AsyncClient(base_url=access.server, timeout=timeout_s, **access.client_kwargs())

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        resp = await self._client.request(method, path, **kw)
        if resp.status_code >= 400:
            raise KubeApiError(method, path, resp.status_code, resp.text)
        return resp

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return (await self._request("GET", path, params=params)).json()

    async def get_text(self, path: str) -> str:
        return (await self._request("GET", path)).text

    async def patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Strategic merge patch (what `kubectl patch` and `kubectl rollout restart` send)."""
        headers = {"Content-Type": "application/strategic-merge-patch+json"}
        resp = await self._request("PATCH", path, content=json.dumps(body), headers=headers,
                                   params={"fieldManager": "llmp-validate"})
        return resp.json()

    async def nodes(self) -> list[dict[str, Any]]:
        return (await self.get("/api/v1/nodes")).get("items") or []

    async def pods(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        path = f"/api/v1/namespaces/{quote(namespace)}/pods"
        return (await self.get(path, params={"labelSelector": selector(labels)})).get("items") or []

    async def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        return await self.get(deployment_path(namespace, name))

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        data = (await self.get(f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}")).get("data") or {}
        if key not in data:
            raise KubeApiError("GET", f"secrets/{name}", 404, f"secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode()

    async def pod_metrics(self, namespace: str, pod: str, port: int) -> str:
        """A pod's Prometheus text through the API server's pod proxy."""
        return await self.get_text(f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}:{port}/proxy/metrics")


def deployment_path(namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{quote(namespace)}/deployments/{quote(name)}"
