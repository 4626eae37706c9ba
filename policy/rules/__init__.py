"""The llm-platform CrossGuard rules, importable without side effects (no PolicyPack is built here).

`policy/__main__.py` builds the pack from `ALL_POLICIES`; `llmplatform.policy_runner` runs the same
objects in-process. The GovernancePack component renders the controls; this pack checks them.
"""

from __future__ import annotations

from . import hygiene, sr1, sr2, sr3
from .common import default_enforcement_level

PACK_NAME = "llm-platform"

ALL_POLICIES = [*sr1.POLICIES, *sr2.POLICIES, *sr3.POLICIES, *hygiene.POLICIES]
"""Every policy of the pack, in report order."""

__all__ = ["ALL_POLICIES", "PACK_NAME", "default_enforcement_level"]
