"""Tenant reconciler: make LiteLLM's teams and virtual keys match the desired tenants, idempotently.

Runs in-cluster as a Job (rendered by TenantGateway) with the LiteLLM image's Python; this file is
mounted from a ConfigMap, so it uses only the standard library and httpx. It never imports the
platform package and never prints a key.

    LITELLM_MASTER_KEY=sk-... python reconcile.py --desired tenants.json \
        --proxy-url http://litellm.llm-tenant-gateway.svc.cluster.local:4000 [--sink kubernetes|file:DIR]

Desired JSON (rendered by `llmplatform.gateway.tenants.desired_state`):
    {"version": 1, "rotation": "<epoch>", "tenants": [{"name", "team_id", "budget_usd",
     "budget_duration", "rpm", "tpm", "models": [served names], "key_namespace"}]}

For each tenant: create the team if missing, update only the fields that differ, unblock it if it
was blocked; make sure it has one current managed key (`llmp-<tenant>-<generation>`) whose value
is in the key sink, issuing a new generation when the sink lacks it, the rotation epoch changed or
`--rotate` names the tenant, then revoke the older generations. Teams carrying the managed-by
marker that are no longer desired are blocked (their keys stop working; nothing is deleted).
A second run with the same input makes no change. The summary (stdout, JSON) lists team names only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

MANAGED_BY_KEY = "llmplatform_managed_by"
MANAGED_BY = "llm-platform"
ROTATION_KEY = "llmplatform_rotation"
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
ROTATE_ENV = "LLMP_ROTATE"
"""Comma-separated tenant names whose keys to rotate on this run; `*` rotates every key."""
SECRET_NAME = "tenant-{name}-key"
TENANT_ROUTES: tuple[str, ...] = ("/v1/chat/completions", "/chat/completions", "/v1/completions", "/completions",
                                  "/v1/models")
"""Every route a tenant key may call: the ones whose requests the cache-salt hook salts (chat and
text completions, call types `acompletion` / `atext_completion`) plus the model list. LiteLLM
1.100.1 matches a key's `allowed_routes` entry exactly or as a path prefix
(`RouteChecks._route_matches_allowed_route`), so `/models` is deliberately absent: it would also
admit `/models/{model}:generateContent`, Google's API, which reaches the model unsalted. Anything
else (Responses, Anthropic messages, Gemini, pass-throughs, MCP, embeddings, batches, files, the
management API) is refused with 403 before a handler runs. `key_type: llm_api` would instead set
`["llm_api_routes"]`, which includes all of those."""
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Tenant:
    name: str
    team_id: str
    budget_usd: float
    budget_duration: str
    rpm: int
    tpm: int
    models: tuple[str, ...]
    key_namespace: str


@dataclass(frozen=True)
class Desired:
    tenants: tuple[Tenant, ...]
    rotation: str = ""

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Desired:
        if doc.get("version") != 1:
            raise ValueError(f"unsupported desired-state version {doc.get('version')!r}; expected 1")
        tenants = tuple(
            Tenant(name=t["name"], team_id=t["team_id"], budget_usd=float(t["budget_usd"]),
                   budget_duration=t["budget_duration"], rpm=int(t["rpm"]), tpm=int(t["tpm"]),
                   models=tuple(sorted(t["models"])), key_namespace=t["key_namespace"])
            for t in doc["tenants"]
        )
        return cls(tenants=tenants, rotation=str(doc.get("rotation", "")))


class ReconcileError(RuntimeError):
    """The admin API or the key sink refused a call; the message names the call, never a key."""


# --- key sinks ---------------------------------------------------------------------------------


class KeySink(Protocol):
    """Where issued keys go. `get` lets a rerun check the stored key is still the live one."""

    def get(self, tenant: Tenant) -> str | None: ...

    def put(self, tenant: Tenant, key: str) -> None: ...


class MemorySink:
    """Keys in a dict (tests)."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def get(self, tenant: Tenant) -> str | None:
        return self.keys.get(tenant.name)

    def put(self, tenant: Tenant, key: str) -> None:
        self.keys[tenant.name] = key


class FileSink:
    """One file per tenant (`<dir>/<tenant>.key`, mode 0600): live tests outside a cluster."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, tenant: Tenant) -> Path:
        return self.directory / f"{tenant.name}.key"

    def get(self, tenant: Tenant) -> str | None:
        path = self._path(tenant)
        return path.read_text().strip() if path.exists() else None

    def put(self, tenant: Tenant, key: str) -> None:
        path = self._path(tenant)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)


class KubernetesSecretSink:
    """`tenant-<name>-key` Secrets (key `api_key`, plus `base_url`) via the in-cluster API."""

    def __init__(self, client: httpx.Client, *, base_url_for_tenants: str) -> None:
        self.client = client
        self.base_url_for_tenants = base_url_for_tenants

    @classmethod
    def in_cluster(cls, *, base_url_for_tenants: str) -> KubernetesSecretSink:
        host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        token = (SA_DIR / "token").read_text().strip()
        client = httpx.Client(base_url=f"https://{host}:{port}", verify=str(SA_DIR / "ca.crt"),
                              headers={"Authorization": f"Bearer {token}"}, timeout=30.0)
        return cls(client, base_url_for_tenants=base_url_for_tenants)

    def _url(self, tenant: Tenant, *, named: bool = True) -> str:
        base = f"/api/v1/namespaces/{tenant.key_namespace}/secrets"
        return f"{base}/{SECRET_NAME.format(name=tenant.name)}" if named else base

    def _read(self, tenant: Tenant) -> dict[str, Any] | None:
        resp = self.client.get(self._url(tenant))
        if resp.status_code == 404:
            return None
        _check(resp, f"GET secret {SECRET_NAME.format(name=tenant.name)} in {tenant.key_namespace}")
        return resp.json()

    def get(self, tenant: Tenant) -> str | None:
        obj = self._read(tenant)
        data = (obj or {}).get("data") or {}
        return base64.b64decode(data["api_key"]).decode() if "api_key" in data else None

    def put(self, tenant: Tenant, key: str) -> None:
        name = SECRET_NAME.format(name=tenant.name)
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": tenant.key_namespace,
                         "labels": {"llmplatform.io/tenant": tenant.name,
                                    "app.kubernetes.io/managed-by": "llmplatform-tenant-reconciler"}},
            "data": {"api_key": base64.b64encode(key.encode()).decode(),
                     "base_url": base64.b64encode(self.base_url_for_tenants.encode()).decode()},
        }
        current = self._read(tenant)
        if current is None:
            _check(self.client.post(self._url(tenant, named=False), json=body), f"create secret {name}")
        else:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            _check(self.client.put(self._url(tenant), json=body), f"replace secret {name}")


# --- LiteLLM admin API ---------------------------------------------------------------------------


def _check(resp: httpx.Response, what: str) -> None:
    if resp.status_code >= 400:
        # Error bodies carry no issued key; cut them short anyway.
        raise ReconcileError(f"{what}: HTTP {resp.status_code}: {resp.text[:300]}")


class AdminAPI:
    """The few LiteLLM admin endpoints the reconciler needs (master-key authenticated)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @classmethod
    def connect(cls, proxy_url: str, master_key: str, *, transport: httpx.BaseTransport | None = None) -> AdminAPI:
        return cls(httpx.Client(base_url=proxy_url.rstrip("/"), transport=transport, timeout=30.0,
                                headers={"Authorization": f"Bearer {master_key}"}))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.client.post(path, json=body)
        _check(resp, f"POST {path}")
        return resp.json() if resp.content else {}

    def list_teams(self) -> list[dict[str, Any]]:
        resp = self.client.get("/team/list")
        _check(resp, "GET /team/list")
        return list(resp.json())

    def list_keys(self, team_id: str) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.client.get("/key/list", params={"team_id": team_id, "return_full_object": "true",
                                                        "size": 100, "page": page})
            _check(resp, "GET /key/list")
            doc = resp.json()
            keys.extend(k for k in doc.get("keys", []) if isinstance(k, dict))
            if page >= int(doc.get("total_pages") or 1):
                return keys
            page += 1

    def new_team(self, body: dict[str, Any]) -> None:
        self._post("/team/new", body)

    def update_team(self, body: dict[str, Any]) -> None:
        self._post("/team/update", body)

    def block_team(self, team_id: str) -> None:
        self._post("/team/block", {"team_id": team_id})

    def unblock_team(self, team_id: str) -> None:
        self._post("/team/unblock", {"team_id": team_id})

    def generate_key(self, body: dict[str, Any]) -> str:
        key = self._post("/key/generate", body).get("key")
        if not isinstance(key, str) or not key.startswith("sk-"):
            raise ReconcileError("POST /key/generate returned no key")
        return key

    def update_key(self, token: str, body: dict[str, Any]) -> None:
        self._post("/key/update", {"key": token, **body})

    def delete_keys(self, tokens: list[str]) -> None:
        if tokens:
            self._post("/key/delete", {"keys": tokens})


# --- reconciliation ------------------------------------------------------------------------------


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = {}
    return meta if isinstance(meta, dict) else {}


def is_managed(team: dict[str, Any]) -> bool:
    return _metadata(team).get(MANAGED_BY_KEY) == MANAGED_BY


def team_body(t: Tenant) -> dict[str, Any]:
    return {"team_id": t.team_id, "team_alias": t.name, "max_budget": t.budget_usd,
            "budget_duration": t.budget_duration, "rpm_limit": t.rpm, "tpm_limit": t.tpm,
            "models": list(t.models), "metadata": {MANAGED_BY_KEY: MANAGED_BY}}


def team_changes(current: dict[str, Any], t: Tenant) -> dict[str, Any]:
    """The fields of `team_body(t)` whose current value differs (budgets compared to a micro-dollar)."""
    want = team_body(t)
    out: dict[str, Any] = {}
    for key, value in want.items():
        have = current.get(key)
        if key == "team_id":
            continue
        if key == "max_budget":
            same = have is not None and abs(float(have) - value) < 1e-6
        elif key == "models":
            same = sorted(have or []) == value
        elif key == "metadata":
            same = is_managed(current)
            value = {**_metadata(current), **value}
        else:
            same = have == value
        if not same:
            out[key] = value
    return out


def key_alias(tenant: str, generation: int) -> str:
    return f"llmp-{tenant}-{generation}"


def _generation(tenant: str, alias: str | None) -> int | None:
    match = re.fullmatch(rf"llmp-{re.escape(tenant)}-(\d+)", alias or "")
    return int(match.group(1)) if match else None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Summary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    keys_issued: list[str] = field(default_factory=list)
    keys_revoked: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.blocked or self.keys_issued or self.keys_revoked)

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "blocked": self.blocked, "keys_issued": self.keys_issued, "keys_revoked": self.keys_revoked}


def ensure_key(api: AdminAPI, tenant: Tenant, sink: KeySink, *, rotation: str, force: bool) -> tuple[bool, int]:
    """(issued a new key?, keys revoked). The newest managed key stays if the sink holds it."""
    managed = [(g, k) for k in api.list_keys(tenant.team_id)
               if (g := _generation(tenant.name, k.get("key_alias"))) is not None]
    managed.sort(key=lambda gk: gk[0])
    newest = managed[-1][1] if managed else None
    stored = sink.get(tenant)
    current = (
        newest is not None and stored is not None and not force and not newest.get("blocked")
        and newest.get("token") == _hash(stored) and str(_metadata(newest).get(ROTATION_KEY, "")) == rotation
    )
    if current:
        stale = [k["token"] for _, k in managed[:-1] if k.get("token")]
        if sorted(newest.get("allowed_routes") or []) != sorted(TENANT_ROUTES):
            # A key issued before the route list changed keeps its value; only its routes move.
            api.update_key(newest["token"], {"allowed_routes": list(TENANT_ROUTES)})
    else:
        generation = (managed[-1][0] if managed else 0) + 1
        # allowed_routes: the key may call only routes whose requests carry the tenant's cache salt,
        # never LiteLLM's management API (see TENANT_ROUTES).
        key = api.generate_key({"team_id": tenant.team_id, "key_alias": key_alias(tenant.name, generation),
                                "allowed_routes": list(TENANT_ROUTES),
                                "metadata": {MANAGED_BY_KEY: MANAGED_BY, ROTATION_KEY: rotation}})
        sink.put(tenant, key)
        # Older generations go only once the new key is stored: a failed write leaves the old one working.
        stale = [k["token"] for _, k in managed if k.get("token")]
    api.delete_keys(stale)
    return (not current), len(stale)


def reconcile(api: AdminAPI, desired: Desired, sink: KeySink, *, rotate: frozenset[str] = frozenset()) -> Summary:
    """Apply `desired` through `api`; see the module docstring for the rules."""
    summary = Summary()
    teams = {t["team_id"]: t for t in api.list_teams() if t.get("team_id")}
    wanted = {t.team_id for t in desired.tenants}
    for tenant in desired.tenants:
        current = teams.get(tenant.team_id)
        if current is None:
            api.new_team(team_body(tenant))
            summary.created.append(tenant.name)
        else:
            changes = team_changes(current, tenant)
            if current.get("blocked"):
                api.unblock_team(tenant.team_id)
            if changes:
                api.update_team({"team_id": tenant.team_id, **changes})
            (summary.updated if changes or current.get("blocked") else summary.unchanged).append(tenant.name)
        issued, revoked = ensure_key(api, tenant, sink, rotation=desired.rotation,
                                     force="*" in rotate or tenant.name in rotate)
        if issued:
            summary.keys_issued.append(tenant.name)
        summary.keys_revoked += revoked
    for team_id, team in sorted(teams.items()):
        if team_id not in wanted and is_managed(team) and not team.get("blocked"):
            api.block_team(team_id)
            summary.blocked.append(team.get("team_alias") or team_id)
    return summary


def wait_for_proxy(client: httpx.Client, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if client.get("/health/liveliness").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise ReconcileError(f"LiteLLM did not answer /health/liveliness within {timeout_s:.0f} s")
        time.sleep(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--desired", type=Path, required=True, help="desired tenants JSON")
    parser.add_argument("--proxy-url", required=True, help="LiteLLM base URL, e.g. http://litellm:4000")
    parser.add_argument("--sink", default="kubernetes", help="kubernetes | file:<dir>")
    parser.add_argument("--rotate", action="append", default=[], help="tenant whose key to rotate ('*': all)")
    parser.add_argument("--wait-seconds", type=float, default=300.0)
    args = parser.parse_args(argv)

    master_key = os.environ.get(MASTER_KEY_ENV)
    if not master_key:
        print(f"error: {MASTER_KEY_ENV} is not set", file=sys.stderr)
        return 2
    desired = Desired.from_json(json.loads(args.desired.read_text()))
    rotate = frozenset(args.rotate) | frozenset(n for n in os.environ.get(ROTATE_ENV, "").split(",") if n)
    tenant_url = args.proxy_url.rstrip("/") + "/v1"
    if args.sink == "kubernetes":
        sink: KeySink = KubernetesSecretSink.in_cluster(base_url_for_tenants=tenant_url)
    elif args.sink.startswith("file:"):
        sink = FileSink(Path(args.sink.removeprefix("file:")))
    else:
        print(f"error: unknown sink {args.sink!r}", file=sys.stderr)
        return 2
    api = AdminAPI.connect(args.proxy_url, master_key)
    try:
        wait_for_proxy(api.client, args.wait_seconds)
        summary = reconcile(api, desired, sink, rotate=rotate)
    except ReconcileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary.to_dict(), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
