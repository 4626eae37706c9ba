"""Plaintext-secret heuristics for ConfigMaps and container env: secrets belong in Secrets, referenced.

Heuristics, so they are tuned to say little and mean it:
- a *name* that says secret (`password`, `token`, `api_key`, `master_key`, `private_key`, `credentials`,
  ...) holding a literal value; references are fine (`os.environ/X`, `${X}`, `$(X)`, `secretKeyRef`);
- a *value* that looks like a credential whatever its name: known token formats (`sk-`, `hf_`, `ghp_`,
  `AKIA`, Slack), a PEM private key, a URL with a password in it, or the offline plan's `[secret]`
  placeholder (a Pulumi secret rendered into a non-Secret object);
- structured ConfigMap values (`*.yaml`, `*.yml`, `*.json`) are parsed and walked key by key; other
  data (scripts, prose) is only scanned for credential-shaped values, so a docstring that says
  "no password is sent" is not a finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

SECRET_PLACEHOLDER = "[secret]"
"""What the offline plan writes where a Pulumi secret was (llmp.plan.render)."""

_SECRET_NAME = re.compile(
    r"(^|[_\-.])(pass(word|wd)?|pwd|secret|token|credentials?|auth[_\-]?key|"
    r"(api|access|private|secret|master|salt|signing|encryption|client)[_\-]?key)($|[_\-.])",
    re.IGNORECASE,
)
_NOT_SECRET_NAME = re.compile(
    r"(_file|_path|_ref|_name|_ttl|_secs?|_seconds|_enabled|_mode|_timeout|_header|per_token)$", re.IGNORECASE)
_REFERENCE = re.compile(r"^(os\.environ/\S+|\$\{[^}]+\}|\$\([^)]+\)|env:\S+|secretKeyRef:.*)$")
_CREDENTIAL_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_\-]{20,}|hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16}|"
    r"xox[abprs]-[A-Za-z0-9\-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|"
    r"[a-z][a-z0-9+.\-]*://[^/\s:@]+:[^/\s@]+@)"
)
_STRUCTURED = (".yaml", ".yml", ".json")


def is_secret_name(name: str) -> bool:
    """Does a key or variable name say it holds a secret (`DB_PASSWORD`, `api_key`, `master_key`)?"""
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def is_reference(value: str) -> bool:
    """A pointer to a secret kept elsewhere (`os.environ/X`, `${X}`, `$(X)`), not the secret itself."""
    return bool(_REFERENCE.match(value.strip()))


def looks_like_credential(value: str) -> bool:
    """A value shaped like a credential whatever it is called (token formats, PEM keys, URL passwords)."""
    return SECRET_PLACEHOLDER in value or bool(_CREDENTIAL_VALUE.search(value))


def _literal_secret(name: str, value: Any) -> bool:
    # Numbers and booleans are settings (`input_cost_per_token: 2e-07`), never credentials here.
    if not isinstance(value, str) or not value.strip():
        return False
    if looks_like_credential(value):
        return True
    return is_secret_name(name) and not is_reference(value)


def _walk(node: Any, path: str) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(value, Mapping | list):
                yield from _walk(value, child)
            elif _literal_secret(str(key), value):
                yield child
    elif isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, Mapping | list):
                yield from _walk(item, f"{path}[{i}]")
            elif isinstance(item, str) and looks_like_credential(item):
                yield f"{path}[{i}]"


def _parse(key: str, text: str) -> Any:
    import yaml

    try:
        return json.loads(text) if key.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return None


def configmap_findings(configmap: Mapping[str, Any]) -> list[str]:
    """Where a ConfigMap holds a plaintext secret: `data.<key>[.<path in its YAML/JSON>]` for each."""
    out: list[str] = []
    for key, value in sorted((configmap.get("data") or {}).items()):
        key = str(key)
        if not isinstance(value, str):
            continue
        if key.endswith(_STRUCTURED):
            parsed = _parse(key, value)
            if isinstance(parsed, Mapping | list):
                out += [f"data.{key}: {path}" for path in _walk(parsed, "")]
                continue
        if _literal_secret(key, value) or (not is_secret_name(key) and looks_like_credential(value)):
            out.append(f"data.{key}")
    return out


def env_findings(container: Mapping[str, Any]) -> list[str]:
    """Env variables of a container that carry a secret as a literal `value` (not `valueFrom`)."""
    out = []
    for var in container.get("env") or ():
        if isinstance(var, Mapping) and "value" in var and _literal_secret(str(var.get("name", "")), var.get("value")):
            out.append(str(var.get("name")))
    return out
