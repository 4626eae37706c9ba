"""`prove_sr2`: run both renderings on both engines over every shape and compare with the oracle."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from llmp.verify.sr2.admission import KINDS, Admission, ProbeNamespace
from llmp.verify.sr2.cel_text import string_literals
from llmp.verify.sr2.engines import ERROR, CppEngine, Outcome, PyEngine, engine_version
from llmp.verify.sr2.kueue import KueueConfig
from llmp.verify.sr2.oracle import ALWAYS_EXEMPT, GpuReach, get_path, oracle_reason
from llmp.verify.sr2.renderings import KyvernoRendering, Rendering, Runner, VapRendering, cel_pass
from llmp.verify.sr2.result import ExtraVerdict, Sr2Proof, Tally
from llmp.verify.sr2.shapes import generate_shapes, probe_namespaces


def prove_sr2(
    cluster_policy: Mapping[str, Any],
    vap_policy: Mapping[str, Any],
    vap_binding: Mapping[str, Any],
    *,
    enforce: bool,
    exempt_namespaces: Sequence[str],
    extra_objects: Sequence[Mapping[str, Any]] = (),
    kueue: KueueConfig | None = None,
    reach: GpuReach | None = None,
    cel_python_sample: int | None = 2000,
    stride: int = 1,
    seed: int = 2,
) -> Sr2Proof:
    """Prove SR2 for the given renderings.

    `enforce`: the expected mode (multi-team/untrusted True, trusted False); a rendering that blocks
    in audit mode or only reports in enforce mode fails. `exempt_namespaces`: what the caller meant
    to exempt besides the system namespaces. `extra_objects`: the platform's own rendered objects;
    each one SR2 covers is evaluated on CREATE in its `metadata.namespace` (default `default`).
    `kueue`: Kueue's rendered configuration; a queued GPU request Kueue does not act on must be denied
    (None: Kueue's scope is not compared). `reach`: the substrate's GPU taint key and NVIDIA runtime
    class; a pod that reaches for a GPU without requesting one must be denied (None: not checked).
    `cel_python_sample`: how many shapes (chosen with `seed`, deterministic) are also evaluated on
    cel-python; None means all (about 1-2 ms a shape). `stride`: evaluate every n-th shape only
    (1 = all; for quick checks).
    """
    t_start = time.perf_counter()
    exempt = frozenset(exempt_namespaces)
    renderings: list[Rendering] = [KyvernoRendering(cluster_policy), VapRendering(vap_policy, vap_binding)]
    structural: list[str] = []

    # Probe namespaces from what the renderings mention.
    names: list[str] = []
    pairs: list[tuple[str, str]] = []
    for r in renderings:
        n, pr = r.namespace_hints()
        names += n
        pairs += pr
        for text in r.texts:
            names += string_literals(text)
    dns = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    if kueue is not None:
        names += kueue.named_namespaces()
    extra_managed = [n for n in names if dns.match(n) and len(n) <= 63]
    namespaces = probe_namespaces(sorted(exempt), extra_managed=extra_managed, spoof_labels=pairs)

    cpp, py = CppEngine(), PyEngine()
    engines = {cpp.name: cpp, py.name: py}
    programs: dict[str, dict[str, Any]] = {cpp.name: {}, py.name: {}}
    for r in renderings:
        for text in r.texts:
            for eng in engines.values():
                if text in programs[eng.name]:
                    continue
                try:
                    programs[eng.name][text] = eng.compile(text)
                except Exception as exc:
                    programs[eng.name][text] = None
                    structural.append(f"{r.label}: CEL does not compile on {eng.name}: "
                                      f"{str(exc).splitlines()[0][:300]} -- in: {text[:200]!r}")

    shapes = generate_shapes(namespaces, reach or GpuReach(taint_key="nvidia.com/gpu", runtime_class="nvidia"))
    shapes = shapes[::max(1, stride)]

    def expectation(obj: Mapping[str, Any], ns: ProbeNamespace) -> tuple[str | None, str]:
        """(why SR2 denies it or None, detail) from the oracle, with Kueue's verdict on this kind and namespace."""
        manages, why = kueue.manages(str(obj.get("kind")), ns.label_map()) if kueue is not None else (None, "")
        return oracle_reason(obj, ns.name, exempt, kueue_manages=manages, reach=reach), why
    if cel_python_sample is None or cel_python_sample >= len(shapes):
        sample = set(range(len(shapes)))
    else:
        sample = set(random.Random(seed).sample(range(len(shapes)), cel_python_sample))

    tally = Tally()
    counters = {"cpp_evals": 0, "py_evals": 0, "cpp_time": 0.0, "py_time": 0.0}

    def make_runner(eng: Any, activation: Any, cache: dict[str, Outcome], key: str) -> Runner:
        def run(text: str) -> Outcome:
            if text not in cache:
                prog = programs[eng.name].get(text)
                if prog is None:
                    cache[text] = f"{ERROR}: does not compile"
                else:
                    t0 = time.perf_counter()
                    cache[text] = eng.run(prog, activation)
                    counters[key + "_time"] += time.perf_counter() - t0
                    counters[key + "_evals"] += 1
            return cache[text]
        return run

    missed_name = {"outside-kueue-scope": "admitted-outside-kueue-scope",
                   "gpu-access-without-request": "gpu-access-admitted"}

    def judge(adm: Admission, eng_name: str, run: Runner, reason: str | None, why: str) -> None:
        expected = reason is not None
        for r in renderings:
            d = r.decide(adm, run)
            for err in d.errors:
                tally.add(r.label, eng_name, "cel-error", adm, err[:300])
            if expected and not d.flagged:
                tally.add(r.label, eng_name, missed_name.get(str(reason), "missed-violation"), adm,
                          why if reason == "outside-kueue-scope" else "")
            elif d.flagged and not expected:
                tally.add(r.label, eng_name, "false-denial", adm)
            elif expected and enforce and not d.blocked:
                tally.add(r.label, eng_name, "not-blocked", adm,
                          "flagged but admitted although the tier enforces SR2")
            if d.blocked and not enforce:
                tally.add(r.label, eng_name, "blocked-in-audit", adm, "blocked although the tier only audits SR2")
            # The CEL alone, as if the match blocks selected everything: defence in depth.
            verdict, errs = cel_pass(r.validation_texts, run)
            if verdict is not None and (not verdict) != expected:
                tally.add(r.label, eng_name, "cel-alone-missed" if expected else "cel-alone-false-denial", adm)

    violating = 0
    for index, spec in enumerate(shapes):
        adm = spec.build()
        reason, why = expectation(adm.obj, adm.namespace)
        violating += reason is not None
        data = adm.activation_data()
        t0 = time.perf_counter()
        act = cpp.activation(data)
        counters["cpp_time"] += time.perf_counter() - t0
        cpp_cache: dict[str, Outcome] = {}
        judge(adm, cpp.name, make_runner(cpp, act, cpp_cache, "cpp"), reason, why)
        if index in sample:
            t0 = time.perf_counter()
            pact = py.activation(data)
            counters["py_time"] += time.perf_counter() - t0
            py_cache: dict[str, Outcome] = {}
            py_run = make_runner(py, pact, py_cache, "py")
            judge(adm, py.name, py_run, reason, why)
            for text in {t for r in renderings for t in r.texts}:
                a, b = make_runner(cpp, act, cpp_cache, "cpp")(text), py_run(text)
                same = a == b or (isinstance(a, str) and isinstance(b, str))
                if not same:
                    tally.add("engines", f"{cpp.name} vs {py.name}", "engine-disagreement", adm,
                              f"{cpp.name}={a!r} {py.name}={b!r} on {text[:120]!r}")

    extras: list[ExtraVerdict] = []
    for obj in extra_objects:
        if obj.get("kind") not in KINDS:
            continue
        ns_name = get_path(obj, "metadata", "namespace") or "default"
        category = "system" if ns_name in ALWAYS_EXEMPT else "exempt" if ns_name in exempt else "managed"
        adm = Admission(obj, ProbeNamespace(ns_name, category), "CREATE",
                        description=f"platform object {obj.get('kind')}/{ns_name}/{get_path(obj, 'metadata', 'name')}")
        act = cpp.activation(adm.activation_data())
        run = make_runner(cpp, act, {}, "cpp")
        decisions = {r.label: r.decide(adm, run) for r in renderings}
        reason, why = expectation(obj, adm.namespace)
        extras.append(ExtraVerdict(
            kind=str(obj.get("kind")), name=str(get_path(obj, "metadata", "name")), namespace=ns_name,
            oracle_violation=reason is not None, oracle_reason=(f"{reason}: {why}" if why else reason) if reason else "",
            flagged_by=tuple(k for k, d in decisions.items() if d.flagged),
            blocked_by=tuple(k for k, d in decisions.items() if d.blocked)))

    for r in renderings:
        structural += [f"{r.label}: {p}" if not p.startswith(r.label) else p for p in r.problems]
    if enforce:
        k = renderings[0]
        assert isinstance(k, KyvernoRendering)
        if any(rule["action"] != "Enforce" for rule in k.rules):
            structural.append("kyverno: a rule's failureAction is not Enforce on an enforcing tier")
        v = renderings[1]
        assert isinstance(v, VapRendering)
        if "Deny" not in v.actions:
            structural.append("vap: the binding's validationActions lack Deny on an enforcing tier")

    return Sr2Proof(
        shapes=len(shapes),
        violating_shapes=violating,
        cel_python_shapes=len(sample),
        evaluations=counters["cpp_evals"],
        cel_python_evaluations=counters["py_evals"],
        mismatches=tally.mismatches(),
        structural_problems=tuple(dict.fromkeys(structural)),
        extras=tuple(extras),
        engine_versions={"cel-expr-python": engine_version("cel-expr-python"),
                         "cel-python": engine_version("cel-python")},
        namespaces=tuple(f"{n.name}({n.category})" for n in namespaces),
        enforce=enforce,
        seconds=time.perf_counter() - t_start,
        evals_per_second=counters["cpp_evals"] / counters["cpp_time"] if counters["cpp_time"] else 0.0,
        cel_python_evals_per_second=counters["py_evals"] / counters["py_time"] if counters["py_time"] else 0.0,
        texts={r.label: tuple(r.texts) for r in renderings},
    )
