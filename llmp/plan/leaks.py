"""Find secret values from a mocked run anywhere under a folder (plan.json, manifests, reports).

Every secret the offline plan injects is `mock_secret_value(kind, name)`: generated passwords are
keyed by their resource name (recorded in plan.json), secret config by its key. So the scan can
recompute them all without the values ever being written down.
"""

from __future__ import annotations

import json
from pathlib import Path

from llmplatform.config.pulumi_source import SECRET_KEYS
from llmp.plan.mocks import MOCK_SECRET_PREFIX, mock_secret_value

_GENERATED = ("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString",
              "random:index/randomBytes:RandomBytes")


def mock_secrets_for(plan_path: Path) -> dict[str, str]:
    """label -> secret value, for every secret the mocked run behind `plan_path` produced."""
    plan = json.loads(plan_path.read_text())
    out = {f"config:{k}": mock_secret_value("config", k) for k in SECRET_KEYS}
    for res in plan["resources"]:
        if res["type"] in _GENERATED:
            out[f"{res['type'].split(':')[-1]}:{res['name']}"] = mock_secret_value("random", res["name"])
            out[f"{res['type'].split(':')[-1]}:{res['name']}:b64"] = mock_secret_value("random-b64", res["name"])
    return out


def scan_for_leaks(folder: Path, secrets: dict[str, str]) -> list[tuple[str, str]]:
    """(file, secret label) for every file under `folder` that contains a secret value or its 16-char prefix.

    The prefix catches truncated copies (a password cut to a shorter `length`).
    """
    needles = {label: value[: len(MOCK_SECRET_PREFIX) + 16] for label, value in secrets.items()}
    hits: list[tuple[str, str]] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            text = path.read_text(errors="ignore")
        except OSError:
            continue
        for label, needle in needles.items():
            if needle in text:
                hits.append((str(path.relative_to(folder)), label))
    return hits
