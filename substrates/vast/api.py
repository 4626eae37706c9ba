"""A small typed client for the part of Vast.ai's REST API that `VastHost` needs.

Endpoints and shapes, as documented in Vast's OpenAPI files (github.com/vast-ai/docs,
`api-reference/openapi/yaml/`, read at commit c624622, 2026-08-07) and as sent by Vast's own client
(github.com/vast-ai/vast-cli `vastai/api/offers.py`, `vastai/api/instances.py`, commit 5567983):

- search offers  `POST /api/v0/bundles/` (`search_offers.yaml`): the body is one JSON object whose
  filter keys map to operator objects (`{"gpu_name": {"eq": "RTX 4090"}, "reliability": {"gte": 0.98}}`;
  operators eq, neq, gt, gte, lt, lte, in, notin) plus `order` (`[[field, "asc"|"desc"]]`), `type`,
  `limit` and `allocated_storage`. Reply `{"offers": [{...}, ...]}`. A bad key is answered 404
  `{"msg": "Invalid user key"}` on this endpoint.
- create instance `PUT /api/v0/asks/{offer_id}/` (`create_instance.yaml`): body `image`, `disk`,
  `label`, `runtype`, `onstart`, `env`, `target_state`, `cancel_unavail`, and `vm` ("Whether this is a
  VM instance"). Reply `{"success": true, "new_contract": <instance id>}`; 404/410 `no_such_ask` when
  the offer is gone; 400 `no_ssh_key_for_vm` when the account has no SSH key.
- show instance   `GET /api/v0/instances/{id}/` (`show_instance.yaml`): reply `{"instances": {...}}`
  with `actual_status`, `intended_status`, `cur_state`, `status_msg`, `public_ipaddr`, `ssh_host`,
  `ssh_port`, `machine_id`, `gpu_name`, `num_gpus`, `dph_total`, ... Vast's client also handles
  `{"instances": null}` for an instance that is not (or no longer) yours.
- destroy instance `DELETE /api/v0/instances/{id}/` (`destroy_instance.yaml`): reply
  `{"success": true}`; 404 `{"error": "not_found"}` when the instance does not exist.
- 429 on every endpoint when requests are too frequent (per-endpoint thresholds of a few per second).

VM instances (guides/instances/virtual-machines.mdx): only offers with `vms_enabled` run them, the
image must be one of `docker.io/vastai/kvm:*`, SSH is the only launch mode, and the account needs an
SSH key before renting. The `vastai` SDK has no VM option, which is why this client exists.

The API key travels only in the `Authorization: Bearer` header (never in a URL, where error messages,
proxies and logs would see it), is read from `VAST_API_KEY` when a client is made, and is redacted
from every error message this module raises.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx

API_KEY_ENV = "VAST_API_KEY"
"""Environment variable holding the Vast API key (read when a client is made, never stored)."""
BASE_URL_ENV = "VAST_API_URL"
"""Environment variable overriding the API base URL (tests point it at `tests/support/vast_fake_server.py`)."""
DEFAULT_BASE_URL = "https://console.vast.ai"
CONSOLE_INSTANCES_URL = "https://cloud.vast.ai/instances/"

RUNNING = "running"
FAILED_STATUSES = frozenset({"exited", "offline", "stopped"})
"""`actual_status` values that a freshly rented instance (asked for `target_state: running`) does not
leave by itself: the container exited, the host dropped off, or the contract was stopped. `unknown`
(no recent heartbeat) and `null`/`loading`/`created` are transient and only end in the timeout."""

# Statuses worth retrying: 429 is rejected before any work happens, so even a rent may be retried;
# gateway errors (502-504) may hide a request that went through, so only idempotent calls retry them.
_RATE_LIMITED = 429
_GATEWAY_ERRORS = frozenset({502, 503, 504})
_LOOPBACK_NAMES = frozenset({"localhost"})
_MAX_DETAIL_CHARS = 300


class VastError(Exception):
    """Base class of every error this module raises; messages never contain the API key."""


class VastConfigError(VastError):
    """The local setup is wrong (no API key in the environment, an unsafe base URL)."""


class VastAuthError(VastError):
    """Vast refused the API key (missing, revoked, or lacking a permission)."""


class VastApiError(VastError):
    """Vast answered with an unexpected status or body."""

    def __init__(self, message: str, *, status: int | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class VastOfferUnavailableError(VastApiError):
    """The offer was rented by someone else (or withdrawn) between search and rent."""


class VastNoOffersError(VastError):
    """No offer matched the filters."""


class VastInstanceGoneError(VastError):
    """The instance does not exist (destroyed, expired, or not on this account)."""


class VastInstanceFailedError(VastError):
    """The instance reached a status it will not leave by itself (see `FAILED_STATUSES`)."""


class VastTimeoutError(VastError):
    """The instance did not reach `running` within the allowed time."""


def canonical_gpu_name(name: str) -> str:
    """Vast's spelling of a GPU model: the CLI's `RTX_4090` means `RTX 4090` (underscores are spaces)."""
    return " ".join(name.replace("_", " ").split())


def _same_gpu(a: str, b: str) -> bool:
    return canonical_gpu_name(a).casefold() == canonical_gpu_name(b).casefold()


def _country_code(geolocation: str | None) -> str | None:
    """Offers carry `"Washington, US"`-style locations; filters use the two-letter country code."""
    if not geolocation:
        return None
    return geolocation.rsplit(",", 1)[-1].strip().upper() or None


@dataclass(frozen=True, kw_only=True)
class OfferFilters:
    """What an offer must satisfy. Every field is sent to Vast and re-checked on each reply."""

    gpu_name: str
    """GPU model, Vast's name with spaces or the CLI's underscores (`RTX_4090` == `RTX 4090`)."""
    num_gpus: int
    """Exact number of GPUs on the offer (a multi-GPU test needs exactly this many)."""
    min_reliability: float
    """Lowest acceptable Vast reliability score, 0..1."""
    max_dph_usd: float
    """Highest acceptable total price, USD per hour, for the whole offer (GPUs + allocated disk)."""
    min_disk_gb: float
    """Disk to allocate; also priced into `dph_total` via `allocated_storage`."""
    regions: tuple[str, ...] = ()
    """Two-letter country codes; empty: anywhere."""
    vms_only: bool = True
    """True: only `vms_enabled` hosts (VMs give systemd and nested containers, which k3s needs)."""
    limit: int = 20

    def to_query(self) -> dict[str, Any]:
        """The `POST /api/v0/bundles/` body, including Vast's own CLI defaults (verified, rentable)."""
        query: dict[str, Any] = {
            "verified": {"eq": True},
            "external": {"eq": False},
            "rentable": {"eq": True},
            "rented": {"eq": False},
            "gpu_name": {"eq": canonical_gpu_name(self.gpu_name)},
            "num_gpus": {"eq": self.num_gpus},
            "reliability": {"gte": self.min_reliability},
            "dph_total": {"lte": self.max_dph_usd},
            "disk_space": {"gte": self.min_disk_gb},
        }
        if self.vms_only:
            query["vms_enabled"] = {"eq": True}
        if self.regions:
            query["geolocation"] = {"in": list(self.regions)}
        query["order"] = [["dph_total", "asc"]]
        query["type"] = "on-demand"
        query["limit"] = self.limit
        query["allocated_storage"] = self.min_disk_gb
        return query


@dataclass(frozen=True, kw_only=True)
class Offer:
    """One rentable offer (a machine slot with `num_gpus` GPUs) from a search."""

    id: int
    gpu_name: str
    num_gpus: int
    dph_total: float
    """Total USD per hour at the searched `allocated_storage`."""
    reliability: float
    vms_enabled: bool
    machine_id: int | None = None
    host_id: int | None = None
    geolocation: str | None = None
    gpu_ram_mb: float | None = None
    cpu_ram_mb: float | None = None
    cpu_cores_effective: float | None = None
    disk_space_gb: float | None = None
    cuda_max_good: float | None = None
    driver_version: str | None = None
    public_ip: str | None = None

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Offer:
        try:
            return cls(
                id=int(row["id"]),
                gpu_name=str(row["gpu_name"]),
                num_gpus=int(row["num_gpus"]),
                dph_total=float(row["dph_total"]),
                reliability=float(row.get("reliability", row.get("reliability2", 0.0)) or 0.0),
                vms_enabled=bool(row.get("vms_enabled")),
                machine_id=_opt_int(row.get("machine_id")),
                host_id=_opt_int(row.get("host_id")),
                geolocation=row.get("geolocation"),
                gpu_ram_mb=_opt_float(row.get("gpu_ram")),
                cpu_ram_mb=_opt_float(row.get("cpu_ram")),
                cpu_cores_effective=_opt_float(row.get("cpu_cores_effective")),
                disk_space_gb=_opt_float(row.get("disk_space")),
                cuda_max_good=_opt_float(row.get("cuda_max_good")),
                driver_version=_opt_str(row.get("driver_version")),
                public_ip=_opt_str(row.get("public_ipaddr")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VastApiError(f"search offers returned an offer without a usable {exc}: keys {sorted(row)}") from exc

    def satisfies(self, filters: OfferFilters) -> bool:
        """True when this offer meets every filter (Vast's search is trusted, then checked)."""
        return (
            _same_gpu(self.gpu_name, filters.gpu_name)
            and self.num_gpus == filters.num_gpus
            and self.reliability >= filters.min_reliability
            and self.dph_total <= filters.max_dph_usd
            and (self.vms_enabled or not filters.vms_only)
            and (self.disk_space_gb is None or self.disk_space_gb >= filters.min_disk_gb)
            and (not filters.regions or _country_code(self.geolocation) in {r.upper() for r in filters.regions})
        )


@dataclass(frozen=True, kw_only=True)
class Instance:
    """A rented instance as `show instance` reports it."""

    id: int
    actual_status: str | None
    """`null` while provisioning, then `loading`, `running`; see `FAILED_STATUSES`."""
    intended_status: str | None = None
    cur_state: str | None = None
    status_msg: str | None = None
    label: str | None = None
    public_ip: str | None = None
    ssh_host: str | None = None
    ssh_port: int | None = None
    machine_id: int | None = None
    host_id: int | None = None
    gpu_name: str | None = None
    num_gpus: int | None = None
    dph_total: float | None = None
    geolocation: str | None = None
    gpu_ram_mb: float | None = None
    cpu_ram_mb: float | None = None
    disk_space_gb: float | None = None

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Instance:
        try:
            return cls(
                id=int(row["id"]),
                actual_status=_opt_str(row.get("actual_status")),
                intended_status=_opt_str(row.get("intended_status")),
                cur_state=_opt_str(row.get("cur_state")),
                status_msg=_opt_str(row.get("status_msg")),
                label=_opt_str(row.get("label")),
                public_ip=_opt_str(row.get("public_ipaddr")),
                ssh_host=_opt_str(row.get("ssh_host")),
                ssh_port=_opt_int(row.get("ssh_port")),
                machine_id=_opt_int(row.get("machine_id")),
                host_id=_opt_int(row.get("host_id")),
                gpu_name=_opt_str(row.get("gpu_name")),
                num_gpus=_opt_int(row.get("num_gpus")),
                dph_total=_opt_float(row.get("dph_total")),
                geolocation=_opt_str(row.get("geolocation")),
                gpu_ram_mb=_opt_float(row.get("gpu_ram")),
                cpu_ram_mb=_opt_float(row.get("cpu_ram")),
                disk_space_gb=_opt_float(row.get("disk_space")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VastApiError(f"show instance returned an instance without a usable {exc}") from exc


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def check_base_url(url: str) -> str:
    """Return `url` without a trailing slash, or raise if the key would travel in clear text.

    https anywhere; plain http only to a loopback address (the fake server in tests).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise VastConfigError(f"{BASE_URL_ENV}={url!r} is not an http(s) URL; unset it to use {DEFAULT_BASE_URL}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise VastConfigError(
            f"{BASE_URL_ENV}={url!r} would send the API key unencrypted; use https, or http only to "
            "127.0.0.1/localhost (the local fake server)"
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class VastClient:
    """Typed calls to Vast's REST API. Holds the key in memory only; refuses to be pickled.

    Use as a context manager (`with VastClient.from_env() as api:`) so the connection pool closes.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        request_timeout_s: float = 30.0,
        max_attempts: int = 4,
        retry_backoff_s: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """
        :param api_key: Vast API key; sent only as `Authorization: Bearer`.
        :param base_url: API root; https, or http to loopback only.
        :param request_timeout_s: per-request connect/read/write timeout, seconds.
        :param max_attempts: tries per request when Vast rate-limits (429) or, for idempotent calls,
            when a gateway error or transport error occurs; 1 disables retries.
        :param retry_backoff_s: first pause between tries, doubled each time.
        :param transport: an httpx transport (tests); None: real network.
        """
        if not api_key or not api_key.strip():
            raise VastConfigError(f"the Vast API key is empty; set {API_KEY_ENV}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self._key = api_key.strip()
        self._base_url = check_base_url(base_url)
        self._max_attempts = max_attempts
        self._retry_backoff_s = retry_backoff_s
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self._base_url,
            headers={"Authorization": f"Bearer {self._key}", "Accept": "application/json"},
            timeout=httpx.Timeout(request_timeout_s),
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> VastClient:
        """A client from `VAST_API_KEY` (required) and `VAST_API_URL` (optional), read now."""
        env = os.environ if environ is None else environ
        key = env.get(API_KEY_ENV, "")
        if not key.strip():
            raise VastConfigError(
                f"{API_KEY_ENV} is not set; export your Vast API key (https://cloud.vast.ai/cli/) in the "
                "environment that runs `pulumi up`/`pulumi destroy`. It is read there on every call and "
                "never stored in Pulumi state."
            )
        return cls(key, base_url=env.get(BASE_URL_ENV) or DEFAULT_BASE_URL, **kwargs)

    @property
    def base_url(self) -> str:
        return self._base_url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VastClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VastClient(base_url={self._base_url!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("VastClient holds the Vast API key and must never be pickled (Pulumi state would keep it)")

    # -- endpoints ---------------------------------------------------------------------------------

    def search_offers(self, filters: OfferFilters) -> list[Offer]:
        """Offers matching `filters`, cheapest first; offers that fail the filters are dropped."""
        response = self._request("POST", "/api/v0/bundles/", json_body=filters.to_query(), idempotent=True)
        if response.status_code != 200:
            self._raise_for(response, "search offers")
        body = self._json(response, "search offers")
        rows = body.get("offers") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise VastApiError("search offers: reply has no `offers` list", status=response.status_code)
        offers = [Offer.from_json(row) for row in rows if isinstance(row, dict)]
        return sorted((o for o in offers if o.satisfies(filters)), key=lambda o: (o.dph_total, -o.reliability, o.id))

    def create_instance(
        self,
        offer_id: int,
        *,
        image: str,
        disk_gb: float,
        label: str | None = None,
        onstart: str | None = None,
        env: Mapping[str, str] | None = None,
        runtype: str = "ssh",
        vm: bool = True,
    ) -> int:
        """Rent `offer_id`; return the new instance id (`new_contract`). Billing starts here.

        `cancel_unavail` makes Vast refuse (410) rather than create a stopped instance when the
        machine cannot start it now, so a returned id is an instance that is starting.
        """
        body: dict[str, Any] = {
            "client_id": "me",
            "image": image,
            "disk": disk_gb,
            "runtype": runtype,
            "target_state": "running",
            "cancel_unavail": True,
            "vm": vm,
        }
        if label is not None:
            body["label"] = label
        if onstart is not None:
            body["onstart"] = onstart
        if env:
            body["env"] = dict(env)
        path = f"/api/v0/asks/{int(offer_id)}/"
        response = self._request("PUT", path, json_body=body, idempotent=False)
        if response.status_code in (404, 410):
            error, msg = _error_fields(response)
            raise VastOfferUnavailableError(
                f"offer {offer_id} is no longer available (HTTP {response.status_code}"
                f"{self._detail(error, msg)}); search again",
                status=response.status_code,
                error=error,
            )
        if response.status_code != 200:
            error, msg = _error_fields(response)
            if error == "no_ssh_key_for_vm":
                raise VastApiError(
                    f"create instance on offer {offer_id}: Vast requires an SSH public key on the account "
                    "before renting a VM; add one at https://cloud.vast.ai/account/ and retry"
                    f"{self._detail(error, msg)}",
                    status=response.status_code,
                    error=error,
                )
            if response.status_code in _GATEWAY_ERRORS:
                raise VastApiError(
                    f"create instance on offer {offer_id}: HTTP {response.status_code}{self._detail(error, msg)}. "
                    f"The rent may have gone through: check {CONSOLE_INSTANCES_URL} for label {label!r} "
                    "before retrying.",
                    status=response.status_code,
                    error=error,
                )
            self._raise_for(response, f"create instance on offer {offer_id}")
        body_out = self._json(response, "create instance")
        contract = body_out.get("new_contract") if isinstance(body_out, dict) else None
        if not (isinstance(body_out, dict) and body_out.get("success") is True and contract is not None):
            raise VastApiError(
                f"create instance on offer {offer_id}: expected {{success: true, new_contract: <id>}}, got keys "
                f"{sorted(body_out) if isinstance(body_out, dict) else type(body_out).__name__}",
                status=response.status_code,
            )
        return int(contract)

    def show_instance(self, instance_id: int) -> Instance:
        """The instance now; raises `VastInstanceGoneError` when Vast no longer has it."""
        response = self._request("GET", f"/api/v0/instances/{int(instance_id)}/", idempotent=True)
        if response.status_code == 404 and not _is_auth_failure(response):
            raise VastInstanceGoneError(f"instance {instance_id} does not exist (HTTP 404)")
        if response.status_code != 200:
            self._raise_for(response, f"show instance {instance_id}")
        body = self._json(response, "show instance")
        row = body.get("instances") if isinstance(body, dict) else None
        if row is None:
            raise VastInstanceGoneError(f"instance {instance_id} does not exist (Vast returned no instance)")
        if not isinstance(row, dict):
            raise VastApiError(f"show instance {instance_id}: `instances` is a {type(row).__name__}, not an object")
        return Instance.from_json(row)

    def wait_running(
        self,
        instance_id: int,
        *,
        timeout_s: float,
        poll_interval_s: float,
        on_poll: Callable[[Instance], None] | None = None,
    ) -> Instance:
        """Poll `show instance` until `actual_status` is `running`; bounded by `timeout_s` seconds.

        Raises `VastInstanceFailedError` on a status in `FAILED_STATUSES`, `VastInstanceGoneError` if
        the instance disappears, `VastTimeoutError` (with the last status seen) when time runs out.
        """
        if timeout_s <= 0 or poll_interval_s <= 0:
            raise ValueError(f"timeout_s and poll_interval_s must be > 0, got {timeout_s} and {poll_interval_s}")
        deadline = time.monotonic() + timeout_s
        polls = 0
        while True:
            instance = self.show_instance(instance_id)
            polls += 1
            if on_poll is not None:
                on_poll(instance)
            if instance.actual_status == RUNNING:
                return instance
            if instance.actual_status in FAILED_STATUSES:
                raise VastInstanceFailedError(
                    f"instance {instance_id} is {instance.actual_status!r} instead of running"
                    + (f": {self._redact(instance.status_msg)}" if instance.status_msg else "")
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise VastTimeoutError(
                    f"instance {instance_id} not running after {timeout_s:g}s ({polls} polls); last status "
                    f"{instance.actual_status!r}"
                    + (f", message {self._redact(instance.status_msg)!r}" if instance.status_msg else "")
                    + " (VMs boot slower than containers; raise the timeout if the host is just slow)"
                )
            self._sleep(min(poll_interval_s, remaining))

    def destroy_instance(self, instance_id: int) -> bool:
        """Destroy the instance (irreversible; billing stops). True: destroyed; False: was already gone.

        A 404 means "already gone" only when it is not Vast's invalid-key reply, so a bad key can
        never make Pulumi forget a host that is still billing.
        """
        response = self._request("DELETE", f"/api/v0/instances/{int(instance_id)}/", json_body={}, idempotent=True)
        if response.status_code == 404 and not _is_auth_failure(response):
            return False
        if response.status_code != 200:
            self._raise_for(response, f"destroy instance {instance_id}")
        body = self._json(response, "destroy instance")
        if isinstance(body, dict) and body.get("success") is False:
            error, msg = _error_fields(response)
            raise VastApiError(
                f"destroy instance {instance_id}: Vast answered success=false{self._detail(error, msg)}",
                status=response.status_code,
                error=error,
            )
        return True

    # -- plumbing ----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, json_body: Any = None, idempotent: bool) -> httpx.Response:
        delay = self._retry_backoff_s
        for attempt in range(1, self._max_attempts + 1):
            last = attempt == self._max_attempts
            try:
                response = self._http.request(method, path, json=json_body)
            except httpx.TransportError as exc:
                if idempotent and not last:
                    self._sleep(delay)
                    delay *= 2
                    continue
                outcome = (
                    ""
                    if idempotent
                    else " The request may have reached Vast: check "
                    f"{CONSOLE_INSTANCES_URL} for an instance you did not expect."
                )
                raise VastApiError(
                    f"{method} {path} failed after {attempt} attempt(s): {type(exc).__name__}: "
                    f"{self._redact(str(exc))}.{outcome}"
                ) from None
            retryable = response.status_code == _RATE_LIMITED or (
                idempotent and response.status_code in _GATEWAY_ERRORS
            )
            if retryable and not last:
                self._sleep(delay)
                delay *= 2
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for(self, response: httpx.Response, what: str) -> NoReturn:
        error, msg = _error_fields(response)
        detail = self._detail(error, msg)
        status = response.status_code
        if status in (401, 403) or _is_auth_failure(response):
            raise VastAuthError(
                f"{what}: Vast refused the API key from {API_KEY_ENV} (HTTP {status}{detail}); check the key "
                "and its permissions at https://cloud.vast.ai/manage-keys/"
            )
        if status == _RATE_LIMITED:
            raise VastApiError(f"{what}: still rate-limited after {self._max_attempts} attempts{detail}", status=status)
        raise VastApiError(f"{what}: HTTP {status}{detail}", status=status, error=error)

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            snippet = self._redact(response.text[:_MAX_DETAIL_CHARS])
            raise VastApiError(
                f"{what}: HTTP {response.status_code} reply is not JSON: {snippet!r}", status=response.status_code
            ) from None

    def _detail(self, error: str | None, msg: str | None) -> str:
        parts = [p for p in (error, msg) if p]
        return f": {self._redact(' - '.join(parts))[:_MAX_DETAIL_CHARS]}" if parts else ""

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "<redacted VAST_API_KEY>")


def _error_fields(response: httpx.Response) -> tuple[str | None, str | None]:
    """Vast's error bodies: `{"success": false, "error": ..., "msg": ...}` or `{"detail": ...}` (429)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text.strip()
        return None, text[:_MAX_DETAIL_CHARS] or None
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    msg = body.get("msg") or body.get("detail")
    return (str(error) if error else None), (str(msg) if msg else None)


def _is_auth_failure(response: httpx.Response) -> bool:
    """Vast answers a bad key with 401, or 404 `Invalid user key` on some endpoints (search offers)."""
    if response.status_code in (401, 403):
        return True
    error, msg = _error_fields(response)
    text = f"{error or ''} {msg or ''}".lower()
    return error == "auth_error" or "user key" in text or "api key" in text


def describe_filters(filters: OfferFilters) -> str:
    """One line for error messages: what was searched for."""
    where = ", ".join(filters.regions) if filters.regions else "any country"
    kind = "VM-capable " if filters.vms_only else ""
    return (
        f"{filters.num_gpus}x {canonical_gpu_name(filters.gpu_name)} on {kind}hosts, reliability >= "
        f"{filters.min_reliability:g}, <= ${filters.max_dph_usd:g}/h with {filters.min_disk_gb:g} GB disk, {where}"
    )
