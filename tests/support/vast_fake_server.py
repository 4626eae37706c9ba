"""A local fake of the Vast.ai REST endpoints that `substrates.vast.api` uses, on 127.0.0.1.

It reproduces the documented request and response shapes (see `api`'s module docstring for the
sources): `POST /api/v0/bundles/` (offer search with operator filters, `order`, `limit`),
`PUT /api/v0/asks/{id}/` (`{"success": true, "new_contract": id}`; 404/410 `no_such_ask`; 400
`no_ssh_key_for_vm`), `GET /api/v0/instances/{id}/` (`{"instances": {...}}`, `{"instances": null}` when
unknown), `DELETE /api/v0/instances/{id}/` (`{"success": true}`; 404 `not_found`), 429 rate limiting, and
bad-key replies (404 `Invalid user key` on search, 401 `auth_error` elsewhere).

It records every request (method, path, query, headers, JSON body) so tests can assert what was sent,
and has knobs for the failure modes a provider must survive (`FakeVastKnobs`). Used by the tests, the
validation kit and the docs; it is a plain `http.server` in a daemon thread and needs no network.

    with FakeVastServer(api_key="test-key") as vast:
        os.environ["VAST_API_URL"] = vast.base_url
        ...
        assert [r.method for r in vast.requests] == ["POST", "PUT", "GET", "GET"]
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_OFFER_PATH = re.compile(r"^/api/v0/asks/(\d+)/?$")
_INSTANCE_PATH = re.compile(r"^/api/v0/instances/(\d+)/?$")
_SEARCH_PATH = re.compile(r"^/api/v0/bundles/?$")


@dataclass
class FakeVastKnobs:
    """Failure modes. Change them between calls (e.g. `vast.knobs.never_running = True`)."""

    no_matching_offers: bool = False
    """Search answers `{"offers": []}` whatever the filters."""
    unavailable_offer_ids: set[int] = field(default_factory=set)
    """Renting these offers answers 410 `no_such_ask` (someone else rented it first)."""
    create_status: int | None = None
    """Every rent answers this HTTP status with Vast's error body (e.g. 500, 503)."""
    no_ssh_key_for_vm: bool = False
    """Renting with `vm: true` answers 400 `no_ssh_key_for_vm`."""
    polls_until_running: int = 2
    """A new instance reports `null`, then `loading`, and `running` from this many-th `show` on."""
    never_running: bool = False
    """New instances stay `loading` forever."""
    fail_after_rent: str | None = None
    """New instances go to this `actual_status` (e.g. "exited") after the first poll, with a `status_msg`."""
    vanish_after_rent: bool = False
    """New instances disappear (show answers `{"instances": null}`) after the first poll."""
    destroy_status: int | None = None
    """Every destroy answers this HTTP status (e.g. 500) and leaves the instance in place."""
    destroy_404: bool = False
    """Every destroy answers 404 `not_found` (as if the instance were already gone)."""
    rate_limit_next: int = 0
    """The next N requests (any endpoint) answer 429, counting down."""
    echo_key_in_errors: bool = False
    """Error bodies quote the Authorization header back (to prove callers redact it)."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased header names."""
    body: Any
    """Parsed JSON body, or the raw text when it is not JSON, or None when empty."""
    raw_url: str


def default_offers() -> list[dict[str, Any]]:
    """A small market in Vast's offer shape. Cheapest 2x RTX 4090 VM-capable offer with reliability
    >= 0.98 under $1.5/h is #5001 (US); #5006 is the Canadian one; #5002 is cheaper but not VM-capable."""

    def offer(oid: int, gpu: str, n: int, dph: float, rel: float, vms: bool, geo: str, **extra: Any) -> dict[str, Any]:
        row = {
            "id": oid,
            "ask_contract_id": oid,
            "bundle_id": oid + 900000,
            "machine_id": oid - 4000,
            "host_id": 70000 + oid % 100,
            "gpu_name": gpu,
            "num_gpus": n,
            "gpu_ram": 24564,
            "gpu_total_ram": 24564 * n,
            "cpu_ram": 128576,
            "cpu_cores_effective": 16.0 * n,
            "disk_space": 500.0,
            "dph_base": round(dph * 0.95, 4),
            "dph_total": dph,
            "reliability": rel,
            "reliability2": rel,
            "vms_enabled": vms,
            "verification": "verified",
            "rentable": True,
            "rented": False,
            "external": None,
            "geolocation": geo,
            "cuda_max_good": 12.4,
            "driver_version": "550.54.15",
            "public_ipaddr": f"203.0.113.{oid % 250}",
            "static_ip": True,
            "direct_port_count": 32,
            "inet_up": 900.0,
            "inet_down": 900.0,
            "score": 100.0 * rel,
        }
        row.update(extra)
        return row

    return [
        offer(5001, "RTX 4090", 2, 0.72, 0.995, True, "Washington, US"),
        offer(5002, "RTX 4090", 2, 0.55, 0.995, False, "Texas, US"),
        offer(5003, "RTX 4090", 2, 0.50, 0.900, True, "Oregon, US"),
        offer(5004, "RTX 4090", 2, 2.50, 0.999, True, "Virginia, US"),
        offer(5005, "RTX 4090", 4, 1.40, 0.990, True, "Ohio, US"),
        offer(5006, "RTX 4090", 2, 0.95, 0.990, True, "Ontario, CA"),
        offer(5007, "A100 SXM4", 2, 2.10, 0.999, True, "Quebec, CA", gpu_ram=81920),
        offer(5008, "RTX 4090", 2, 1.10, 0.985, True, "Bavaria, DE"),
    ]


class FakeVastServer:
    """The fake, started on 127.0.0.1 on a free port. `base_url` is what `VAST_API_URL` should be."""

    def __init__(
        self, *, api_key: str, offers: Iterable[Mapping[str, Any]] | None = None, knobs: FakeVastKnobs | None = None
    ) -> None:
        self.api_key = api_key
        self.knobs = knobs or FakeVastKnobs()
        self._lock = threading.Lock()
        self._offers: dict[int, dict[str, Any]] = {}
        self._instances: dict[int, dict[str, Any]] = {}
        self._polls: dict[int, int] = {}
        self._destroyed: list[int] = []
        self._requests: list[RecordedRequest] = []
        self._next_contract = 1_000_001
        for row in default_offers() if offers is None else offers:
            self._offers[int(row["id"])] = dict(row)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeVastServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-vast", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeVastServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- inspection --------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def calls(self) -> list[str]:
        """`"METHOD /path"` for every request so far, in order."""
        return [f"{r.method} {r.path}" for r in self.requests]

    def live_instances(self) -> dict[int, dict[str, Any]]:
        """Instances rented and not destroyed (what would still be billing)."""
        with self._lock:
            return copy.deepcopy(self._instances)

    @property
    def destroyed(self) -> list[int]:
        with self._lock:
            return list(self._destroyed)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- request handling (called from handler threads) -------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _handle(self, method: str, path: str, headers: Mapping[str, str], body: Any) -> tuple[int, Any]:
        with self._lock:
            if self.knobs.rate_limit_next > 0:
                self.knobs.rate_limit_next -= 1
                return 429, {"detail": "API requests too frequent endpoint threshold=3.0"}
            if headers.get("authorization") != f"Bearer {self.api_key}":
                return self._unauthorized(path, headers)
            if method == "POST" and _SEARCH_PATH.match(path):
                return self._search(body)
            if (m := _OFFER_PATH.match(path)) and method == "PUT":
                return self._create(int(m.group(1)), body, headers)
            if m := _INSTANCE_PATH.match(path):
                if method == "GET":
                    return self._show(int(m.group(1)))
                if method == "DELETE":
                    return self._destroy(int(m.group(1)), headers)
            return 404, {"success": False, "error": "not_found", "msg": f"no route {method} {path} in the fake"}

    def _unauthorized(self, path: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        msg = "Invalid user key"
        if self.knobs.echo_key_in_errors:
            msg += f" ({headers.get('authorization', '')})"
        if _SEARCH_PATH.match(path):
            return 404, {"error": "auth_error", "msg": msg}
        return 401, {"success": False, "error": "auth_error", "msg": msg}

    def _search(self, query: Any) -> tuple[int, Any]:
        if not isinstance(query, dict):
            return 400, {"error": "invalid_request", "msg": "Invalid json body"}
        if self.knobs.no_matching_offers:
            return 200, {"offers": []}
        rows = [o for o in self._offers.values() if _matches(o, query)]
        for field_name, direction in reversed(query.get("order") or []):
            rows.sort(key=lambda o, f=field_name: (o.get(f) is None, o.get(f)), reverse=direction == "desc")
        limit = query.get("limit")
        if isinstance(limit, int) and limit > 0:
            rows = rows[:limit]
        return 200, {"offers": copy.deepcopy(rows)}

    def _create(self, offer_id: int, body: Any, headers: Mapping[str, str]) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("image"), str) or not body["image"]:
            return 400, {
                "success": False,
                "error": "invalid_args",
                "msg": "error 400/3467: Invalid args: 'image' is required",
                "ask_id": offer_id,
            }
        if self.knobs.create_status is not None:
            msg = "error: internal error" + (
                f" ({headers.get('authorization', '')})" if self.knobs.echo_key_in_errors else ""
            )
            return self.knobs.create_status, {"success": False, "error": "server_error", "msg": msg, "ask_id": offer_id}
        if body.get("vm") is True and self.knobs.no_ssh_key_for_vm:
            return 400, {
                "success": False,
                "error": "no_ssh_key_for_vm",
                "msg": "error 400: add an ssh key to your account before renting a VM",
                "ask_id": offer_id,
            }
        offer = self._offers.get(offer_id)
        if offer is None:
            return 404, {
                "success": False,
                "error": "invalid_args",
                "msg": f"error 404/3603: no_such_ask Instance type by id {offer_id} is not available.",
                "ask_id": offer_id,
            }
        if offer.get("rented") or offer_id in self.knobs.unavailable_offer_ids:
            return 410, {
                "success": False,
                "error": "no_such_ask",
                "msg": f"error 410/3907: no_such_ask Instance type {offer_id} is no longer available.",
                "ask_id": offer_id,
            }
        offer["rented"] = True
        contract = self._next_contract
        self._next_contract += 1
        now = time.time()
        self._instances[contract] = {
            "id": contract,
            "actual_status": None,
            "intended_status": "running",
            "cur_state": "running",
            "next_state": "running",
            "label": body.get("label"),
            "image_uuid": body["image"],
            "image_runtype": body.get("runtype", "ssh"),
            "image_args": [],
            "extra_env": [[k, v] for k, v in (body.get("env") or {}).items()],
            "onstart": body.get("onstart"),
            "status_msg": None,
            "public_ipaddr": offer.get("public_ipaddr"),
            "local_ipaddrs": "10.0.0.5 172.17.0.1 \n",
            "ssh_host": f"ssh{contract % 10}.vast.ai",
            "ssh_idx": str(contract % 10),
            "ssh_port": 20000 + contract % 10000,
            "machine_id": offer.get("machine_id"),
            "host_id": offer.get("host_id"),
            "bundle_id": offer.get("bundle_id"),
            "start_date": now,
            "end_date": now + 30 * 86400,
            "gpu_name": offer.get("gpu_name"),
            "num_gpus": offer.get("num_gpus"),
            "gpu_ram": offer.get("gpu_ram"),
            "gpu_totalram": offer.get("gpu_total_ram"),
            "cpu_ram": offer.get("cpu_ram"),
            "cpu_cores_effective": offer.get("cpu_cores_effective"),
            "disk_space": body.get("disk"),
            "dph_total": offer.get("dph_total"),
            "geolocation": offer.get("geolocation"),
            "reliability2": offer.get("reliability2"),
            "jupyter_token": "0" * 64,
            "_offer_id": offer_id,
            "_vm": body.get("vm") is True,
        }
        self._polls[contract] = 0
        return 200, {"success": True, "new_contract": contract}

    def _show(self, instance_id: int) -> tuple[int, Any]:
        row = self._instances.get(instance_id)
        if row is None:
            return 200, {"instances": None}
        self._polls[instance_id] += 1
        polls = self._polls[instance_id]
        knobs = self.knobs
        if knobs.vanish_after_rent and polls > 1:
            self._release(instance_id)
            return 200, {"instances": None}
        if knobs.fail_after_rent and polls > 1:
            row["actual_status"] = knobs.fail_after_rent
            row["status_msg"] = "Error response from daemon: failed to start VM: kvm not available on host"
        elif knobs.never_running:
            row["actual_status"] = "loading"
        elif polls >= knobs.polls_until_running:
            row["actual_status"] = "running"
        elif polls > 1:
            row["actual_status"] = "loading"
        return 200, {"instances": {k: v for k, v in row.items() if not k.startswith("_")}}

    def _destroy(self, instance_id: int, headers: Mapping[str, str]) -> tuple[int, Any]:
        if self.knobs.destroy_status is not None:
            msg = "error: could not destroy" + (
                f" ({headers.get('authorization', '')})" if self.knobs.echo_key_in_errors else ""
            )
            return self.knobs.destroy_status, {"success": False, "error": "server_error", "msg": msg}
        if self.knobs.destroy_404 or instance_id not in self._instances:
            return 404, {"success": False, "error": "not_found", "msg": "Instance not found"}
        self._release(instance_id)
        self._destroyed.append(instance_id)
        return 200, {"success": True, "msg": "Instance destroyed successfully"}

    def _release(self, instance_id: int) -> None:
        row = self._instances.pop(instance_id)
        offer = self._offers.get(row["_offer_id"])
        if offer is not None:
            offer["rented"] = False


def _country(geo: Any) -> str | None:
    if not isinstance(geo, str) or not geo:
        return None
    return geo.rsplit(",", 1)[-1].strip().upper()


def _field_value(offer: Mapping[str, Any], name: str) -> Any:
    if name == "verified":
        return offer.get("verification") == "verified"
    if name == "geolocation":
        return _country(offer.get("geolocation"))
    value = offer.get(name)
    if name in ("external", "rented") and value is None:
        return False
    return value


def _matches(offer: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    for name, condition in query.items():
        if not isinstance(condition, dict):
            continue  # order, type, limit, allocated_storage
        value = _field_value(offer, name)
        for op, target in condition.items():
            if not _compare(value, op, target):
                return False
    return True


def _compare(value: Any, op: str, target: Any) -> bool:
    if op in ("in", "notin"):
        found = value in (target if isinstance(target, list) else [target])
        return found if op == "in" else not found
    if op == "eq":
        return value == target
    if op == "neq":
        return value != target
    if value is None:
        return False
    try:
        if op == "gt":
            return value > target
        if op == "gte":
            return value >= target
        if op == "lt":
            return value < target
        if op == "lte":
            return value <= target
    except TypeError:
        return False
    raise ValueError(f"unknown operator {op!r}")


def _make_handler(server: FakeVastServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            server._record(
                RecordedRequest(
                    method=self.command,
                    path=split.path,
                    query=parse_qs(split.query),
                    headers=headers,
                    body=body,
                    raw_url=self.path,
                )
            )
            try:
                status, payload = server._handle(self.command, split.path, headers, body)
            except ValueError as exc:
                status, payload = 400, {"success": False, "error": "invalid_request", "msg": str(exc)}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `requests` instead
            pass

    return Handler
