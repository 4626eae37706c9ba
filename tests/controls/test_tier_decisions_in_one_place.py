"""Only the tier logic decides by trust tier or profile: every other module receives the ControlPlan.

An AST scan of the project's Python (tests excepted): no comparison, membership test or `match` may
involve a `TrustTier`/`Profile` member (`Profile.PROD`) or a `.trust_tier` / `.profile` / `.rank`
attribute, outside `TIER_LOGIC`. A planted module shows the scan finds both forms.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIER_LOGIC = {"llmplatform/controls/tiers.py"}
"""The one module that turns (trust tier, profile, substrate, governance) into a ControlPlan."""
SKIPPED_DIRS = {"tests", "build", "node_modules", "__pycache__"}
ENUMS = {"TrustTier", "Profile"}
ATTRIBUTES = {"trust_tier", "profile", "rank"}


def _project_modules() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if any(p in SKIPPED_DIRS or p.startswith(".") for p in parts[:-1]):
            continue
        yield path


def _decides_by_tier(node: ast.AST) -> str | None:
    """What in `node` (a comparison operand, a match subject or pattern) is a tier/profile decision."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            if isinstance(sub.value, ast.Name) and sub.value.id in ENUMS:
                return f"{sub.value.id}.{sub.attr}"
            if sub.attr in ATTRIBUTES:
                return f".{sub.attr}"
    return None


def tier_decisions(source: str, filename: str = "<plant>") -> list[str]:
    """`file:line: what` for every comparison, membership test or match on a tier or profile."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        operands: list[ast.AST] = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Match):
            operands = [node.subject, *(case.pattern for case in node.cases)]
        for operand in operands:
            what = _decides_by_tier(operand)
            if what:
                found.append(f"{filename}:{node.lineno}: compares {what}")
                break
    return sorted(found, key=lambda line: int(line.split(":")[1]))


def test_no_module_but_the_tier_logic_decides_by_trust_tier_or_profile():
    found = []
    for path in _project_modules():
        name = path.relative_to(ROOT).as_posix()
        if name not in TIER_LOGIC:
            found += tier_decisions(path.read_text(encoding="utf-8"), name)
    assert found == [], "decide from the ControlPlan (llmplatform.controls.tiers) instead:\n" + "\n".join(found)


def test_the_tier_logic_itself_is_scanned_and_found():
    assert all((ROOT / name).is_file() for name in TIER_LOGIC)
    assert tier_decisions((ROOT / "llmplatform/controls/tiers.py").read_text(encoding="utf-8"))


PLANT = '''
from llmplatform.config import Profile, TrustTier

def replicas(cfg):
    return 3 if cfg.profile == Profile.PROD else 1

def namespaces(tier, tenants):
    return tenants if tier in (TrustTier.UNTRUSTED,) else ()

def salted(cfg):
    match cfg.trust_tier:
        case TrustTier.TRUSTED:
            return False
    return True

def ranked(tier):
    return tier.rank >= 1
'''


def test_a_planted_module_that_decides_by_tier_is_found():
    assert tier_decisions(PLANT) == [
        "<plant>:5: compares .profile",
        "<plant>:8: compares TrustTier.UNTRUSTED",
        "<plant>:11: compares .trust_tier",
        "<plant>:17: compares .rank",
    ]
