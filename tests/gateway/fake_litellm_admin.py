"""A small in-memory stand-in for the LiteLLM admin endpoints the reconciler calls (httpx MockTransport).

It keeps teams and keys the way LiteLLM 1.100.1 (the release the image runs) shapes them in its
responses (`/team/list` rows with `metadata`, `blocked`, `keys`: `litellm/models/team.py`
`TeamBase`, `proxy/_types.py` `TeamListResponseObject`; `/key/list` pages of `keys`, `total_count`,
`current_page`, `total_pages`: `KeyListResponseObject`, keys with their SHA-256 `token`,
`key_alias`, `metadata`: `litellm/models/verification_token.py`), enforces unique key aliases
(as `proxy/management_endpoints/key_management_endpoints.py` does) and the master key, and records
every request so a test can assert that a second run only reads.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import httpx

MASTER_KEY = "sk-test-master"


class FakeLiteLLM:
    def __init__(self) -> None:
        self.teams: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, dict[str, Any]] = {}  # token hash -> key row
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    @property
    def writes(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [r for r in self.requests if r[0] != "GET"]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {MASTER_KEY}":
            return httpx.Response(401, json={"error": "bad master key"})
        body = json.loads(request.content) if request.content else {}
        path = request.url.path
        self.requests.append((request.method, path, body))
        route = getattr(self, f"{request.method.lower()}_{path.strip('/').replace('/', '_')}", None)
        if route is None:
            return httpx.Response(404, json={"error": f"no route {request.method} {path}"})
        return route(request, body)

    def get_health_liveliness(self, request, body):
        return httpx.Response(200, json="I'm alive!")

    def get_team_list(self, request, body):
        return httpx.Response(200, json=[{**t, "keys": []} for t in self.teams.values()])

    def post_team_new(self, request, body):
        if body["team_id"] in self.teams:
            return httpx.Response(400, json={"error": "team exists"})
        self.teams[body["team_id"]] = {"blocked": False, "spend": 0.0, **body}
        return httpx.Response(200, json=self.teams[body["team_id"]])

    def post_team_update(self, request, body):
        team = self.teams.get(body["team_id"])
        if team is None:
            return httpx.Response(404, json={"error": "no team"})
        team.update(body)
        return httpx.Response(200, json=team)

    def post_team_block(self, request, body):
        self.teams[body["team_id"]]["blocked"] = True
        return httpx.Response(200, json=self.teams[body["team_id"]])

    def post_team_unblock(self, request, body):
        self.teams[body["team_id"]]["blocked"] = False
        return httpx.Response(200, json=self.teams[body["team_id"]])

    def get_key_list(self, request, body):
        team_id = request.url.params.get("team_id")
        rows = [k for k in self.keys.values() if k["team_id"] == team_id]
        size, page = int(request.url.params.get("size", 10)), int(request.url.params.get("page", 1))
        pages = max(1, -(-len(rows) // size))
        return httpx.Response(200, json={"keys": rows[(page - 1) * size: page * size], "total_count": len(rows),
                                         "current_page": page, "total_pages": pages})

    def post_key_generate(self, request, body):
        if any(k["key_alias"] == body.get("key_alias") for k in self.keys.values()):
            return httpx.Response(400, json={"error": "Unique key aliases across all keys are required"})
        key = "sk-" + secrets.token_hex(16)
        token = hashlib.sha256(key.encode()).hexdigest()
        self.keys[token] = {"token": token, "team_id": body["team_id"], "key_alias": body["key_alias"],
                            "metadata": body.get("metadata", {}), "blocked": None,
                            "key_type": body.get("key_type", "default"),
                            # LiteLLM 1.100.1 `handle_key_type`: llm_api overrides any allowed_routes sent.
                            "allowed_routes": (["llm_api_routes"] if body.get("key_type") == "llm_api"
                                               else list(body.get("allowed_routes") or []))}
        return httpx.Response(200, json={"key": key, "token": token, "key_alias": body["key_alias"]})

    def post_key_update(self, request, body):
        row = self.keys.get(body["key"])
        if row is None:
            return httpx.Response(404, json={"error": "key not found"})
        row.update({k: v for k, v in body.items() if k != "key"})
        return httpx.Response(200, json={"key": body["key"]})

    def post_key_delete(self, request, body):
        for token in body["keys"]:
            self.keys.pop(token, None)
        return httpx.Response(200, json={"deleted_keys": body["keys"]})

    def valid(self, key: str) -> dict[str, Any] | None:
        """The key row a client presenting `key` would authenticate as (None: rejected)."""
        row = self.keys.get(hashlib.sha256(key.encode()).hexdigest())
        if row is None or self.teams[row["team_id"]]["blocked"]:
            return None
        return row
