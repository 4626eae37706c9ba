"""Kubernetes and Kyverno match semantics: label selectors, Kyverno match/exclude blocks, VAP
resource rules. A field that is not modelled raises `Unmodelled` (reported, never ignored)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

from llmp.verify.sr2.admission import Admission
from llmp.verify.sr2.oracle import get_path


class Unmodelled(Exception):
    """A rendered field this proof cannot model; reported, never ignored."""


def label_selector_matches(selector: Any, labels: Mapping[str, str], where: str) -> bool:
    if selector is None:
        return True
    if not isinstance(selector, Mapping):
        raise Unmodelled(f"{where}: not a label selector: {selector!r}")
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise Unmodelled(f"{where}: unknown selector fields {sorted(unknown)}")
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or ())
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            raise Unmodelled(f"{where}: selector operator {op!r}")
        if not ok:
            return False
    return True


def selector_strings(selector: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """Values a selector compares (possible namespace names) and (key, value) pairs it tests."""
    names: list[str] = []
    pairs: list[tuple[str, str]] = []
    if isinstance(selector, Mapping):
        for k, v in (selector.get("matchLabels") or {}).items():
            pairs.append((k, str(v)))
            names.append(str(v))
        for expr in selector.get("matchExpressions") or ():
            for v in expr.get("values") or ():
                pairs.append((str(expr.get("key")), str(v)))
                names.append(str(v))
            if expr.get("operator") in ("Exists", "DoesNotExist"):
                pairs.append((str(expr.get("key")), "true"))
    return names, pairs


_VERSION = re.compile(r"^(v\d+((alpha|beta)\d+)?|\*)$")


def _kyverno_kind_matches(selector: str, adm: Admission) -> bool:
    """Kyverno kind selectors: Kind, version/Kind, Kind/sub, group/version/Kind[/sub], wildcards."""
    parts = selector.split("/")
    group = version = "*"
    sub = ""
    if len(parts) == 1:
        kind = parts[0]
    elif len(parts) == 2:
        if parts == ["*", "*"]:
            return True
        if _VERSION.match(parts[0]):
            version, kind = parts
        else:
            kind, sub = parts
    elif len(parts) == 3:
        if _VERSION.match(parts[0]):
            version, kind, sub = parts
        else:
            group, version, kind = parts
    elif len(parts) == 4:
        group, version, kind, sub = parts
    else:
        return False
    k = adm.kind
    return (fnmatch.fnmatchcase(k.group, group) and fnmatch.fnmatchcase(k.version, version)
            and fnmatch.fnmatchcase(k.kind, kind) and fnmatch.fnmatchcase(adm.subresource, sub or ""))


_KYVERNO_RESOURCE_KEYS = {"kinds", "operations", "namespaces", "namespaceSelector", "names", "name", "selector",
                          "annotations"}


def _kyverno_filter_matches(flt: Mapping, adm: Admission, where: str) -> bool:
    unknown = set(flt) - {"resources"}
    if unknown:
        raise Unmodelled(f"{where}: match by {sorted(unknown)} (users/roles) is not modelled")
    res = flt.get("resources") or {}
    unknown = set(res) - _KYVERNO_RESOURCE_KEYS
    if unknown:
        raise Unmodelled(f"{where}.resources: unknown fields {sorted(unknown)}")
    if "kinds" in res and not any(_kyverno_kind_matches(k, adm) for k in res["kinds"]):
        return False
    if "operations" in res and adm.operation not in res["operations"]:
        return False
    if "namespaces" in res and not any(fnmatch.fnmatchcase(adm.namespace.name, p) for p in res["namespaces"]):
        return False
    if "namespaceSelector" in res and not label_selector_matches(
            res["namespaceSelector"], adm.namespace.label_map(), f"{where}.namespaceSelector"):
        return False
    obj_name = get_path(adm.obj, "metadata", "name") or ""
    names = list(res.get("names") or ()) + ([res["name"]] if "name" in res else [])
    if names and not any(fnmatch.fnmatchcase(obj_name, p) for p in names):
        return False
    if "selector" in res and not label_selector_matches(
            res["selector"], get_path(adm.obj, "metadata", "labels") or {}, f"{where}.selector"):
        return False
    if "annotations" in res:
        ann = get_path(adm.obj, "metadata", "annotations") or {}
        if not all(any(fnmatch.fnmatchcase(k, pk) and fnmatch.fnmatchcase(str(v), pv) for k, v in ann.items())
                   for pk, pv in res["annotations"].items()):
            return False
    return True


def kyverno_block_matches(block: Any, adm: Admission, where: str, *, empty: bool) -> bool:
    if not block:
        return empty
    unknown = set(block) - {"any", "all", "resources"}
    if unknown:
        raise Unmodelled(f"{where}: match by {sorted(unknown)} is not modelled")
    results = []
    if "resources" in block:
        results.append(_kyverno_filter_matches({"resources": block["resources"]}, adm, where))
    if "any" in block:
        results.append(any(_kyverno_filter_matches(f, adm, f"{where}.any[{i}]") for i, f in enumerate(block["any"])))
    if "all" in block:
        results.append(all(_kyverno_filter_matches(f, adm, f"{where}.all[{i}]") for i, f in enumerate(block["all"])))
    return all(results)


def _vap_resource_matches(entry: str, resource: str, sub: str) -> bool:
    res, slash, s = entry.partition("/")
    if res not in ("*", resource):
        return False
    if not slash:
        return sub == ""
    return s in ("*", sub)


def _vap_rules_match(rules: Any, adm: Admission, where: str) -> bool:
    k = adm.kind
    for i, rule in enumerate(rules or ()):
        unknown = set(rule) - {"apiGroups", "apiVersions", "resources", "operations", "scope", "resourceNames"}
        if unknown:
            raise Unmodelled(f"{where}[{i}]: unknown fields {sorted(unknown)}")
        if not any(g in ("*", k.group) for g in rule.get("apiGroups") or ()):
            continue
        if not any(v in ("*", k.version) for v in rule.get("apiVersions") or ()):
            continue
        if not any(o in ("*", adm.operation) for o in rule.get("operations") or ()):
            continue
        if not any(_vap_resource_matches(r, k.resource, adm.subresource) for r in rule.get("resources") or ()):
            continue
        if rule.get("scope", "*") not in ("*", "Namespaced"):
            continue
        names = rule.get("resourceNames") or ()
        if names and (get_path(adm.obj, "metadata", "name") or "") not in names:
            continue
        return True
    return False


def vap_match_resources(mr: Any, adm: Admission, where: str, *, required_rules: bool) -> bool:
    if mr is None:
        return not required_rules
    unknown = set(mr) - {"resourceRules", "excludeResourceRules", "namespaceSelector", "objectSelector",
                         "matchPolicy"}
    if unknown:
        raise Unmodelled(f"{where}: unknown fields {sorted(unknown)}")
    if mr.get("matchPolicy", "Equivalent") not in ("Equivalent", "Exact"):
        raise Unmodelled(f"{where}.matchPolicy {mr.get('matchPolicy')!r}")
    if ("resourceRules" in mr or required_rules) and not _vap_rules_match(mr.get("resourceRules"), adm,
                                                                          f"{where}.resourceRules"):
        return False
    if _vap_rules_match(mr.get("excludeResourceRules"), adm, f"{where}.excludeResourceRules"):
        return False
    if not label_selector_matches(mr.get("namespaceSelector"), adm.namespace.label_map(),
                                   f"{where}.namespaceSelector"):
        return False
    return label_selector_matches(mr.get("objectSelector"), get_path(adm.obj, "metadata", "labels") or {},
                                   f"{where}.objectSelector")
