"""What the clients' own schemas cannot say about a rendered configuration, checked before it is written.

The schemas accept any string as a key or a model name; these checks hold the document to the tenant: the
key only as the client's environment reference (never a literal), the gateway URL on every model, only
models the tenant may call, and each role the tenant has a model for present and pointing at a listed model.
"""

from __future__ import annotations

import re
from typing import Any

from llmp.ide.clients import CONTINUE_FIM_TEMPLATES, KEY_REFERENCE, PROVIDER_ID, Client
from llmp.ide.roles import ClientModels

LITERAL_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")
"""A LiteLLM virtual or master key (`sk-` + random characters) written out."""


def problems(client: Client, doc: Any, text: str, models: ClientModels, base_url: str) -> list[str]:
    """Every problem in `doc` (the parsed `text`) for the tenant's `models` and `base_url`; empty: sound."""
    out = [f"a literal key ({m.group()[:3]}...) in the file: the key belongs in the environment, referenced as "
           f"{KEY_REFERENCE[client]!r}" for m in LITERAL_KEY.finditer(text)]
    if not isinstance(doc, dict):
        return out + ["the document is not a mapping"]
    allowed = {m.served_name for m in models.allowed}
    check = _continue if client == Client.CONTINUE else _opencode
    return out + check(doc, models, base_url, allowed)


def _continue(doc: dict, models: ClientModels, base_url: str, allowed: set[str]) -> list[str]:
    out: list[str] = []
    entries = doc.get("models") if isinstance(doc.get("models"), list) else []
    for i, entry in enumerate(entries):
        where = f"models[{i}]"
        if not isinstance(entry, dict):
            out.append(f"{where}: not a mapping")
            continue
        if entry.get("apiKey") != KEY_REFERENCE[Client.CONTINUE]:
            out.append(f"{where}.apiKey: must be {KEY_REFERENCE[Client.CONTINUE]!r} (the key from the "
                       f"environment), not {_show(entry.get('apiKey'))}")
        if entry.get("apiBase") != base_url:
            out.append(f"{where}.apiBase: must be the gateway {base_url!r}, not {entry.get('apiBase')!r}")
        if entry.get("model") not in allowed:
            out.append(f"{where}.model: {entry.get('model')!r} is not a model tenant {models.tenant!r} may call "
                       f"({', '.join(sorted(allowed))})")
    by_role = {role: [e for e in entries if isinstance(e, dict) and role in (e.get("roles") or [])]
               for role in ("chat", "autocomplete")}
    if models.chat is not None and (not by_role["chat"] or by_role["chat"][0].get("model") != models.chat.served_name):
        out.append(f"models: the first chat model must be {models.chat.served_name!r}")
    if models.fim is not None:
        fim = by_role["autocomplete"]
        if not fim or fim[0].get("model") != models.fim.served_name:
            out.append(f"models: the autocomplete model must be {models.fim.served_name!r}")
        elif fim[0].get("useLegacyCompletionsEndpoint") is not True:
            out.append("models: the autocomplete model must use /completions (useLegacyCompletionsEndpoint: true), "
                       "the FIM route a tenant key may call")
        elif (fim[0].get("promptTemplates") or {}).get("autocomplete") != (template := _template(models)):
            out.append(f"models: the autocomplete prompt must use {models.fim.served_name}'s FIM tokens "
                       f"({models.fim.fim}): promptTemplates.autocomplete {template!r}")
    return out


def _template(models: ClientModels) -> str:
    return CONTINUE_FIM_TEMPLATES[(models.fim.fim if models.fim else None) or ""]


def _opencode(doc: dict, models: ClientModels, base_url: str, allowed: set[str]) -> list[str]:
    out: list[str] = []
    provider = (doc.get("provider") or {}).get(PROVIDER_ID)
    if not isinstance(provider, dict):
        return [f"provider.{PROVIDER_ID}: missing"]
    options = provider.get("options") or {}
    if options.get("apiKey") != KEY_REFERENCE[Client.OPENCODE]:
        out.append(f"provider.{PROVIDER_ID}.options.apiKey: must be {KEY_REFERENCE[Client.OPENCODE]!r} (the key "
                   f"from the environment), not {_show(options.get('apiKey'))}")
    if options.get("baseURL") != base_url:
        out.append(f"provider.{PROVIDER_ID}.options.baseURL: must be the gateway {base_url!r}, not "
                   f"{options.get('baseURL')!r}")
    listed = provider.get("models") or {}
    for name in listed:
        if name not in allowed:
            out.append(f"provider.{PROVIDER_ID}.models.{name}: not a model tenant {models.tenant!r} may call "
                       f"({', '.join(sorted(allowed))})")
    main = models.agent or models.chat
    ref = doc.get("model")
    if main is None:
        out.append(f"tenant {models.tenant!r} has no chat model for opencode")
    elif ref != f"{PROVIDER_ID}/{main.served_name}":
        out.append(f"model: must be {PROVIDER_ID}/{main.served_name}, not {ref!r}")
    elif main.served_name not in listed:
        out.append(f"model: {ref!r} names no model listed under provider.{PROVIDER_ID}.models")
    if models.agent is not None and (listed.get(models.agent.served_name) or {}).get("tool_call") is not True:
        out.append(f"provider.{PROVIDER_ID}.models.{models.agent.served_name}.tool_call: must be true (the agent "
                   "model; opencode sends no tools to a model without it)")
    return out


def _show(value: Any) -> str:
    """A value for a message, never a key's characters: any string here is a literal key or a wrong reference."""
    if isinstance(value, str):
        return "a literal key" if LITERAL_KEY.search(value) else f"another string ({len(value)} characters)"
    return "nothing" if value is None else f"a {type(value).__name__}"
