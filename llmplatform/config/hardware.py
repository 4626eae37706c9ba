"""GPU and machine-type facts the config validator needs (GKE accelerator names, machine shapes).

Sources: Google Cloud "GPU machine types" and "About GPUs in GKE" pages (checked 2026-11). Only
the accelerators this platform supports are listed; adding one is a row here, not new logic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Accelerator:
    """One GPU model as GKE names it."""

    gke_name: str
    """The `cloud.google.com/gke-accelerator` label value and NodePool accelerator type."""
    memory_gib: int
    mig_capable: bool
    """True where GKE can partition the GPU with `gpu_partition_size` (A100, H100)."""
    mig_partitions: tuple[str, ...] = ()
    machine_families: tuple[str, ...] = ()
    """Machine-type prefixes that carry this GPU (`g2-` for L4, `n1-` for T4 attached GPUs)."""


ACCELERATORS: dict[str, Accelerator] = {
    a.gke_name: a
    for a in (
        Accelerator("nvidia-l4", 24, False, (), ("g2-",)),
        Accelerator("nvidia-tesla-t4", 16, False, (), ("n1-",)),
        Accelerator(
            "nvidia-tesla-a100", 40, True, ("1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb"), ("a2-highgpu-", "a2-megagpu-")
        ),
        Accelerator("nvidia-a100-80gb", 80, True, ("1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"), ("a2-ultragpu-",)),
        Accelerator("nvidia-h100-80gb", 80, True, ("1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"), ("a3-highgpu-",)),
        Accelerator("nvidia-h100-mega-80gb", 80, True, ("1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"), ("a3-megagpu-",)),
    )
}

# Accelerator-optimized machine types have a fixed GPU count; G2 sizes: 4/8/12/16/32 vCPU -> 1 GPU,
# 24 -> 2, 48 -> 4, 96 -> 8.
_G2_GPUS = {"4": 1, "8": 1, "12": 1, "16": 1, "32": 1, "24": 2, "48": 4, "96": 8}
_N1_ATTACHABLE = (1, 2, 4)


def machine_gpu_count(accelerator: str, machine_type: str) -> tuple[int, ...] | None:
    """GPU counts per node that `machine_type` supports for `accelerator`, or None if it cannot carry it.

    Accelerator-optimized shapes (g2, a2, a3) return exactly one count; N1 machines take 1, 2 or 4
    attached T4s.
    """
    acc = ACCELERATORS.get(accelerator)
    if acc is None or not any(machine_type.startswith(f) for f in acc.machine_families):
        return None
    if machine_type.startswith("g2-standard-"):
        count = _G2_GPUS.get(machine_type.removeprefix("g2-standard-"))
        return (count,) if count else None
    if machine_type.startswith("n1-"):
        return _N1_ATTACHABLE if re.fullmatch(r"n1-(standard|highmem|highcpu)-\d+", machine_type) else None
    m = re.fullmatch(r"a[23]-(?:highgpu|megagpu|ultragpu)-(\d+)g", machine_type)
    return (int(m.group(1)),) if m else None


def machine_types_for(accelerator: str) -> str:
    """Human hint of the machine types that carry `accelerator`, for error messages."""
    acc = ACCELERATORS[accelerator]
    if acc.gke_name == "nvidia-l4":
        return "g2-standard-{4,8,12,16,24,32,48,96}"
    return ", ".join(f"{f}*" for f in acc.machine_families)
