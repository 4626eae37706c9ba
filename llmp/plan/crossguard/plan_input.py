"""plan.json resources in the shapes CrossGuard hands to policies: validation args and analyzer protobufs.

The same resource becomes `ResourceValidationArgs` / `PolicyResource` (in-process) or `AnalyzeRequest` /
`AnalyzerResource` (over gRPC) from one reading of the plan, so the two runners cannot disagree on
input. Properties are the plan's inputs (what `pulumi preview` sends): camelCase, secrets already
"[secret]"; analyzers never learn which values were secret.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy


@dataclass(frozen=True)
class PlanResource:
    """One resource of plan.json."""

    urn: str
    type: str
    name: str
    parent: str
    provider: str
    """The provider's URN, or "" for a default provider."""
    inputs: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    resources: tuple[PlanResource, ...]

    def by_urn(self) -> dict[str, PlanResource]:
        return {r.urn: r for r in self.resources}


def load_plan(path: Path) -> Plan:
    """Read plan.json (as `llmp plan` writes it)."""
    doc = json.loads(Path(path).read_text())
    resources = tuple(
        PlanResource(urn=r["urn"], type=r["type"], name=r["name"], parent=r.get("parent") or "",
                     provider=r.get("provider") or "", inputs=r.get("inputs") or {}, options=r.get("options") or {})
        for r in doc["resources"])
    return Plan(project=doc["project"], stack=doc["stack"], resources=resources)


def _props(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    # What the analyzer host does to every property bag: read-only proxies that raise on unknowns.
    return unknown_checking_proxy(copy.deepcopy(dict(inputs)))


def policy_options(res: PlanResource) -> PolicyResourceOptions:
    opts = res.options
    dbr = opts.get("deleteBeforeReplace")
    return PolicyResourceOptions(
        protect=bool(opts.get("protect", False)),
        ignore_changes=list(opts.get("ignoreChanges") or ()),
        delete_before_replace=bool(dbr) if dbr is not None else None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(opts.get("additionalSecretOutputs") or ()),
        parent=res.parent or None,
    )


def policy_provider(res: PlanResource, by_urn: Mapping[str, PlanResource]) -> PolicyProviderResource | None:
    prov = by_urn.get(res.provider) if res.provider else None
    if prov is None:
        return None
    return PolicyProviderResource(prov.type, _props(prov.inputs), prov.urn, prov.name)


def validation_args(res: PlanResource, by_urn: Mapping[str, PlanResource], config: Mapping[str, Any] | None,
                    stack_tags: Mapping[str, str]) -> ResourceValidationArgs:
    """What `Analyze` builds for a resource policy."""
    return ResourceValidationArgs(res.type, _props(res.inputs), res.urn, res.name, policy_options(res),
                                  policy_provider(res, by_urn), dict(config) if config else None, stack_tags)


def policy_resources(plan: Plan) -> list[PolicyResource]:
    """What `AnalyzeStack` builds: every resource, with parents and dependencies linked."""
    by_urn = plan.by_urn()
    out: dict[str, PolicyResource] = {}
    for res in plan.resources:
        out[res.urn] = PolicyResource(res.type, _props(res.inputs), res.urn, res.name, policy_options(res),
                                      policy_provider(res, by_urn), None, [], {})
    for res in plan.resources:
        out[res.urn].parent = out.get(res.parent)
        out[res.urn].dependencies.extend(out[d] for d in res.options.get("dependsOn") or () if d in out)
    return list(out.values())


# ---------------------------------------------------------------- protobuf (the analyzer wire format)


def to_struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    """A property bag as a protobuf Struct (every number becomes a double, as on the wire)."""
    return json_format.ParseDict(dict(value), struct_pb2.Struct())


def _proto_options(res: PlanResource) -> analyzer_pb2.AnalyzerResourceOptions:
    opts = res.options
    dbr = opts.get("deleteBeforeReplace")
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(opts.get("protect", False)), ignoreChanges=list(opts.get("ignoreChanges") or ()),
        deleteBeforeReplace=bool(dbr), deleteBeforeReplaceDefined=dbr is not None,
        additionalSecretOutputs=list(opts.get("additionalSecretOutputs") or ()), parent=res.parent)


def _proto_provider(res: PlanResource, by_urn: Mapping[str, PlanResource]):
    prov = by_urn.get(res.provider) if res.provider else None
    if prov is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(type=prov.type, properties=to_struct(prov.inputs), urn=prov.urn,
                                                 name=prov.name)


def analyze_request(res: PlanResource, by_urn: Mapping[str, PlanResource]) -> analyzer_pb2.AnalyzeRequest:
    req = analyzer_pb2.AnalyzeRequest(type=res.type, properties=to_struct(res.inputs), urn=res.urn, name=res.name,
                                      options=_proto_options(res))
    provider = _proto_provider(res, by_urn)
    if provider is not None:
        req.provider.CopyFrom(provider)
    return req


def analyze_stack_request(plan: Plan) -> analyzer_pb2.AnalyzeStackRequest:
    by_urn = plan.by_urn()
    resources = []
    for res in plan.resources:
        item = analyzer_pb2.AnalyzerResource(type=res.type, properties=to_struct(res.inputs), urn=res.urn,
                                             name=res.name, options=_proto_options(res), parent=res.parent,
                                             dependencies=list(res.options.get("dependsOn") or ()))
        provider = _proto_provider(res, by_urn)
        if provider is not None:
            item.provider.CopyFrom(provider)
        resources.append(item)
    return analyzer_pb2.AnalyzeStackRequest(resources=resources)
