"""Readiness probe for LiteLLM on fail-closed stacks: this pod's proxy is up AND the budget database answers.

Mounted from a ConfigMap and run by the kubelet as an exec probe with the LiteLLM image's Python
(standard library only). Why not just `/health/readiness`: LiteLLM caches a good database check
for 15 s and was measured reporting "db connected" during an outage (NOTES.md), so a pod that has
lost Postgres kept receiving traffic it could only refuse.

Checks, in order (exit 0 = ready, 1 = not ready; the reason goes to stderr, never a credential):
1. GET http://127.0.0.1:<port>/health/readiness answers 200 (the proxy itself is serving);
2. the PostgreSQL server behind DATABASE_URL answers a protocol-3 startup message with an
   authentication request or an error other than "starting up / shutting down" (what `pg_isready`
   checks). No password is sent and the connection is closed before authenticating.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_S = 2.0
NOT_ACCEPTING = {"57P03"}
"""SQLSTATE cannot_connect_now: the server is starting up, shutting down or in recovery without hot standby."""


def proxy_ready(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/readiness", timeout=TIMEOUT_S) as resp:
            return None if resp.status == 200 else f"/health/readiness answered {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"/health/readiness answered {exc.code}"
    except OSError as exc:
        return f"/health/readiness unreachable: {exc.__class__.__name__}"


def startup_message(user: str, database: str) -> bytes:
    body = struct.pack("!i", 196608)  # protocol 3.0
    for k, v in (("user", user), ("database", database)):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def _sqlstate(payload: bytes) -> str:
    for field in payload.split(b"\0"):
        if field[:1] == b"C":
            return field[1:].decode(errors="replace")
    return ""


def database_ready(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname, parts.port or 5432
    if not host:
        return "DATABASE_URL has no host"
    user = urllib.parse.unquote(parts.username or "postgres")
    database = parts.path.lstrip("/") or user
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
            sock.settimeout(TIMEOUT_S)
            sock.sendall(startup_message(user, database))
            head = sock.recv(5)
            if len(head) < 5:
                return "database closed the connection without answering"
            kind, length = head[:1], struct.unpack("!i", head[1:5])[0]
            if kind == b"R":
                return None
            if kind == b"E":
                payload = sock.recv(max(0, min(length - 4, 4096)))
                code = _sqlstate(payload)
                return f"database not accepting connections (SQLSTATE {code})" if code in NOT_ACCEPTING else None
            return f"unexpected database reply {kind!r}"
    except OSError as exc:
        return f"database {host}:{port} unreachable: {exc.__class__.__name__}"


def main() -> int:
    port = int(os.environ.get("PORT", "4000"))
    problems = [p for p in (proxy_ready(port), database_ready(os.environ.get("DATABASE_URL", ""))) if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
