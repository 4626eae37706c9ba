"""Proof of SR2 (GPU admission) with two real CEL engines and an independent statement of the rule.

What is proved, for a rendered Kyverno ClusterPolicy and a rendered ValidatingAdmissionPolicy +
binding (dicts, as they would be applied; nothing is taken from `llmplatform.controls.sr2_gpu_admission.render`):

1. The CEL is read out of the renderings (Kyverno `validate.cel.variables/expressions` and
   `celPreconditions`, `webhookConfiguration.matchConditions`; VAP `variables`, `validations`,
   `matchConditions`). Variables are inlined into each expression (`variables.x` becomes `(x's
   text)`), which keeps Kubernetes' lazy semantics: a variable is evaluated only where it is used.
2. Each expression is compiled once and evaluated on `cel-expr-python` (Google's C++ CEL) over every
   generated shape (`generate_shapes`, >= 30,000 admission requests: kinds x pod-spec sites x
   container lists x requests/limits x resource names x label placements x namespaces x
   operations), and on `cel-python` (`celpy`) over a deterministic sample. The two engines must
   return the same value (true, false or an error) on every sampled shape.
3. The admission decision of each rendering is modelled: Kyverno kind/operation/namespace
   match and exclude blocks, `failureAction`, `allowExistingViolations`, `admission`; VAP
   `matchConstraints` (resource rules, namespace and object selectors), the binding
   (`policyName`, `matchResources`, `validationActions`) and `failurePolicy`. A field that the
   model does not understand is reported as a structural problem rather than ignored.
4. Every decision, and the CEL verdict on its own (as if the match blocks selected everything),
   is compared with `oracle_violation`, a plain-Python statement of SR2 written from the rule text.
   Namespaces named anywhere in the renderings (selector values, Kyverno namespace patterns, CEL
   string literals) that are not expected to be exempt are added as managed probe namespaces, and
   every label key/value the selectors test is planted on a managed probe namespace, so an
   exemption a namespace could grant itself, or an extra exempted name, shows up as a mismatch.
5. Extra objects (the platform's own GPU workloads) are evaluated too; any that a rendering would
   deny or report, or that SR2 denies (e.g. outside Kueue's scope), is listed and makes the proof fail.
6. Kueue's scope is read from its rendered chart (`kueue.read_kueue_config`: the manager ConfigMap's
   `managedJobsNamespaceSelector` and `integrations.frameworks`, the mutating webhooks' namespace
   selectors), and the oracle denies a queued GPU request Kueue does not act on
   (`admitted-outside-kueue-scope`, naming the namespace and the reason). With the substrate's GPU
   taint key and runtime class (`oracle.GpuReach`), it also denies GPU access without a GPU request
   (`gpu-access-admitted`); the shapes cover every access form (`shapes.ACCESS_FORMS`).
7. `exempt_names.prove_exempt_names`: every name SR2 exempts that the plan does not create must be
   refused on Namespace CREATE by a rendered policy; names the plan creates and ordinary names must not.

Engine notes: neither engine has Kubernetes' `quantity()` or library extensions, so the rendered CEL
must stay portable; an expression that does not compile on an engine is a structural problem.

Modules: `oracle` (the independent statement), `cel_text` (CEL extraction helpers), `engines`,
`admission` (one request), `shapes` (the generated requests), `matching` (selector and match
semantics), `renderings` (the decision models), `kueue` (Kueue's rendered scope), `exempt_names`
(the Namespace-CREATE guard), `result` and `proof` (`prove_sr2`).
"""

from __future__ import annotations

from llmp.verify.sr2.admission import KINDS, Admission, KindInfo, ProbeNamespace
from llmp.verify.sr2.cel_text import inline_variables, string_literals
from llmp.verify.sr2.engines import ERROR, CppEngine, Outcome, PyEngine
from llmp.verify.sr2.matching import Unmodelled
from llmp.verify.sr2.oracle import oracle_violation
from llmp.verify.sr2.proof import prove_sr2
from llmp.verify.sr2.renderings import Decision, KyvernoRendering, Runner, VapRendering
from llmp.verify.sr2.result import ExtraVerdict, Mismatch, Sr2Proof
from llmp.verify.sr2.shapes import RESOURCE_NAMES, ShapeSpec, generate_shapes, probe_namespaces

__all__ = [
    "ERROR",
    "KINDS",
    "RESOURCE_NAMES",
    "Admission",
    "CppEngine",
    "Decision",
    "ExtraVerdict",
    "KindInfo",
    "KyvernoRendering",
    "Mismatch",
    "Outcome",
    "ProbeNamespace",
    "PyEngine",
    "Runner",
    "ShapeSpec",
    "Sr2Proof",
    "Unmodelled",
    "VapRendering",
    "generate_shapes",
    "inline_variables",
    "oracle_violation",
    "probe_namespaces",
    "prove_sr2",
    "string_literals",
]
