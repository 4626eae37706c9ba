"""What the estimate assumes about usage (kept light: `llmp` imports it for its option defaults)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BUSY_HOURS = 176.0
"""Busy hours per month when none are given: 8 h a day on 22 working days. `--hours-busy` overrides it."""
DEV_IDLE_TARGET_USD = 30.0
"""Most a dev stack may cost per month with no traffic (issue #9); the estimate notes when it is exceeded."""


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    busy_hours: float = DEFAULT_BUSY_HOURS
    """Hours per month the GPU pools run at their busy node count (0 .. the table's hours per month);
    the rest of the month they run at their always-on count."""
    free_tier_credit: bool = True
    """True: the GKE free-tier credit is this stack's own (no other zonal/Autopilot cluster on the
    billing account spends it). GKE only ever applies it to zonal and Autopilot clusters."""
