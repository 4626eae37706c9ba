"""How big the tenant gateway must be: LiteLLM pods, workers, CPU and memory from the tenants' load.

Every tenant request crosses LiteLLM, a Python proxy whose worker saturates one core. The rule, with
the measured cost of the pinned release in the prod profile (`capacity_measured.json`: CPU per request
and resident memory per worker, with the date and machine they were measured on):

- a worker carries at most `1000 / cpu_ms_per_request` requests/s (one core), and the autoscaler holds it
  at `target_cpu_utilization` of that;
- one worker per pod: a second worker costs the same resident memory again (nothing is shared), keeps its
  own key cache (two views of a revoked key per pod), and needs uvicorn's worker health-check timeout
  raised past LiteLLM's import time; more pods give the same throughput without those costs;
- the autoscaler scales on each pod's absolute CPU use (`target_cpu_utilization` of one core per worker),
  not on a share of the request, so a small request does not make it scale early;
- CPU request = what a pod uses when the tenants' peak is spread over the minimum pods, divided by the
  target utilization, rounded up to 100m, between 250m (LiteLLM's idle and start-up work) and one core
  per worker; memory request = the measured resident size plus 10 %, rounded up to 128 MiB; limit =
  request + 1 GiB for request bodies in flight;
- the tenants' peak = sum of their RPM limits / 60 x `peak_factor` (an RPM limit is enforced per
  minute, so a tenant may spend its minute in a few seconds);
- min pods = the HA floor (`replicas`), or more if that floor cannot absorb the peak at full CPU: new
  pods take 36-98 s to become ready, so a burst is carried by the pods already running;
- max pods = `max_replicas`; the peak at the target utilization must fit it, or the stack is refused.

TPM does not enter: the proxy's CPU is per request and per streamed chunk, not per token of a
non-streamed body. Clusters whose cores are slower or faster than the measuring machine carry
proportionally less or more; re-measure with `make bench-gateway-hop` on the target machine type.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llmplatform.config.model import TenantGatewaySpec, TenantSpec
from llmplatform.problems import Problem

MEASURED_FILE = Path(__file__).with_name("capacity_measured.json")
MEMORY_STEP_MI = 128
MEMORY_MARGIN = 1.10
MEMORY_LIMIT_EXTRA_MI = 1024
CPU_STEP_M = 100
CPU_FLOOR_M = 250
WORKERS_PER_POD = 1


@dataclass(frozen=True, kw_only=True)
class Measured:
    """The pinned LiteLLM's cost in the prod profile, as the benchmark measured it."""

    litellm: str
    cpu_ms_per_request: float
    resident_mib_per_worker: int
    date: str
    machine: str

    @classmethod
    def load(cls, path: Path = MEASURED_FILE) -> Measured:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(litellm=raw["litellm"], cpu_ms_per_request=float(raw["cpu_ms_per_request"]),
                   resident_mib_per_worker=int(raw["resident_mib_per_worker"]), date=raw["date"],
                   machine=raw["machine"])


@dataclass(frozen=True, kw_only=True)
class GatewayLoad:
    """What the tenants may send and what the stack allows the gateway to grow to."""

    tenant_rpm: Sequence[int]
    tenant_tpm: Sequence[int] = ()
    floor: int
    """The HA floor: `tenant_gateway.replicas`."""
    max_replicas: int
    peak_factor: float
    target_cpu_utilization: float


@dataclass(frozen=True, kw_only=True)
class GatewayCapacity:
    """The derived size of the gateway and what it carries."""

    workers_per_pod: int
    cpu_request_m: int
    memory_request_mi: int
    memory_limit_mi: int
    min_replicas: int
    max_replicas: int
    target_cpu_utilization: float
    per_pod_rps_saturated: float
    per_pod_rps_at_target: float
    tenants_rps: float
    """Sum of the tenants' RPM limits, per second."""
    peak_rps: float
    needed_at_target: int
    """Pods that hold the peak at the target utilization."""
    tenants_tpm: int

    @property
    def autoscaled(self) -> bool:
        """True: a HorizontalPodAutoscaler moves the pod count between min and max."""
        return self.max_replicas > self.min_replicas

    @property
    def hpa_cpu_target_m(self) -> int:
        """The autoscaler's target: average CPU use per pod, in millicores."""
        return round(1000 * self.workers_per_pod * self.target_cpu_utilization)

    @property
    def max_rps_at_target(self) -> float:
        return self.max_replicas * self.per_pod_rps_at_target

    def summary(self) -> str:
        pods = (f"{self.min_replicas}-{self.max_replicas} pods (autoscaled on CPU at "
                f"{self.target_cpu_utilization:.0%})" if self.autoscaled else f"{self.min_replicas} pod(s)")
        return (f"{pods} x {self.workers_per_pod} worker, {self.cpu_request_m}m CPU and "
                f"{self.memory_request_mi}Mi each; carries {self.per_pod_rps_at_target:.0f} req/s per pod at "
                f"target, {self.max_rps_at_target:.0f} req/s at max; tenants' peak {self.peak_rps:.1f} req/s "
                f"({self.tenants_rps:.1f} req/s of RPM limits)")


def gateway_load(gateway: TenantGatewaySpec, tenants: Sequence[TenantSpec]) -> GatewayLoad:
    """The load the stack config describes."""
    return GatewayLoad(tenant_rpm=[t.rpm for t in tenants], tenant_tpm=[t.tpm for t in tenants],
                       floor=gateway.replicas, max_replicas=gateway.max_replicas or gateway.replicas,
                       peak_factor=gateway.peak_factor, target_cpu_utilization=gateway.target_cpu_utilization)


def size_gateway(load: GatewayLoad, measured: Measured) -> GatewayCapacity:
    """The gateway's size for `load` (see the module docstring); `capacity_problems` says whether it fits."""
    saturated = 1000.0 / measured.cpu_ms_per_request * WORKERS_PER_POD
    at_target = saturated * load.target_cpu_utilization
    tenants_rps = sum(load.tenant_rpm) / 60.0
    peak = tenants_rps * load.peak_factor
    min_replicas = max(load.floor, math.ceil(peak / saturated))
    needed = max(1, math.ceil(peak / at_target))
    memory = math.ceil(measured.resident_mib_per_worker * MEMORY_MARGIN / MEMORY_STEP_MI) * MEMORY_STEP_MI
    cpu_at_peak_m = peak / min_replicas * measured.cpu_ms_per_request / load.target_cpu_utilization
    cpu = min(max(math.ceil(cpu_at_peak_m / CPU_STEP_M) * CPU_STEP_M, CPU_FLOOR_M), 1000 * WORKERS_PER_POD)
    return GatewayCapacity(
        workers_per_pod=WORKERS_PER_POD, cpu_request_m=cpu,
        memory_request_mi=memory * WORKERS_PER_POD, memory_limit_mi=memory * WORKERS_PER_POD + MEMORY_LIMIT_EXTRA_MI,
        min_replicas=min_replicas, max_replicas=max(load.max_replicas, min_replicas),
        target_cpu_utilization=load.target_cpu_utilization, per_pod_rps_saturated=saturated,
        per_pod_rps_at_target=at_target, tenants_rps=tenants_rps, peak_rps=peak, needed_at_target=needed,
        tenants_tpm=sum(load.tenant_tpm),
    )


def capacity_problems(load: GatewayLoad, measured: Measured, *, key: str = "tenant_gateway") -> list[Problem]:
    """Why the gateway cannot carry `load` within its configured maximum (empty: it can)."""
    out: list[Problem] = []
    if load.max_replicas < load.floor:
        out.append(Problem(f"{key}.max_replicas", load.max_replicas,
                           f"must be >= {key}.replicas ({load.floor}), the floor the autoscaler keeps"))
        return out
    cap = size_gateway(load, measured)
    if cap.needed_at_target > load.max_replicas:
        out.append(Problem(
            f"{key}.max_replicas", load.max_replicas,
            f"the tenants' peak needs {cap.needed_at_target} LiteLLM pods: tenants[*].rpm sum to "
            f"{sum(load.tenant_rpm)}/min, x {key}.peak_factor {load.peak_factor:g} = {cap.peak_rps:.1f} req/s, and "
            f"one pod carries {cap.per_pod_rps_at_target:.1f} req/s at {key}.target_cpu_utilization "
            f"{load.target_cpu_utilization:g} (LiteLLM {measured.litellm}: {measured.cpu_ms_per_request:g} ms CPU per "
            f"request, measured {measured.date}); raise max_replicas to >= {cap.needed_at_target}, or lower the "
            "tenants' rpm or the peak factor"))
    return out
