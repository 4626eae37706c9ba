"""Run the pack's policies in this process, doing what the analyzer host does around each `validate` call.

Per resource policy and resource: build `ResourceValidationArgs`, call `validate`; per stack policy:
build `StackValidationArgs` over every resource. Levels come from the resolved pack config
(`disabled` skips, `remediate` reports as mandatory), a `not_applicable()` becomes a finding with its
reason, a preview-unknown value an advisory finding. The stack's config is visible to the rules as
it is in a pack process (PULUMI_CONFIG), but only inside this run's own context.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi.runtime import config as runtime_config
from pulumi_policy import ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy
from pulumi_policy.policy import _NotApplicableError  # what args.not_applicable() raises
from pulumi_policy.proxy import UnknownValueError

from llmp.plan.crossguard import pack_config
from llmp.plan.crossguard.findings import ADVISORY, MANDATORY, NOT_APPLICABLE, STACK, Finding, sort_findings
from llmp.plan.crossguard.plan_input import Plan, load_plan, policy_resources, validation_args


def _level(level: str) -> str | None:
    return None if level == "disabled" else MANDATORY if level in ("mandatory", "remediate") else ADVISORY


def _run(plan: Plan, config: Mapping[str, Any], pack_dir: Path) -> list[Finding]:
    rules = pack_config.load_rules(pack_dir)
    policies = list(rules.ALL_POLICIES)
    summaries = pack_config.summaries_of(policies, rules.default_enforcement_level().value)
    settings = pack_config.resolve(summaries, config)
    findings: list[Finding] = []
    by_urn = plan.by_urn()
    stack_resources = policy_resources(plan)

    for policy in policies:
        level = _level(settings[policy.name].enforcement_level)
        if level is None:
            continue
        props = dict(settings[policy.name].properties) or None

        def report(message: str, urn: str | None = None, *, _policy=policy, _level=level, _default=STACK) -> None:
            findings.append(Finding(_policy.name, _level, urn or _default, message))

        def guarded(call, subject: str, _policy=policy) -> None:
            try:
                call()
            except _NotApplicableError as exc:
                findings.append(Finding(_policy.name, NOT_APPLICABLE, subject, exc.reason or ""))
            except UnknownValueError as exc:
                findings.append(Finding(_policy.name, ADVISORY, subject, f"can't run during preview: {exc.message}"))

        if isinstance(policy, ResourceValidationPolicy):
            for res in plan.resources:
                args = validation_args(res, by_urn, props, {})
                # A resource policy's report_violation ignores its urn argument: the finding is the resource's.
                guarded(lambda a=args, u=res.urn: policy.validate(a, lambda m, _u=None: report(m, None, _default=u)),
                        res.urn)
        elif isinstance(policy, StackValidationPolicy):
            args = StackValidationArgs(stack_resources, props, {})
            guarded(lambda a=args: policy.validate(a, report), STACK)
    return sort_findings(findings)


def run_in_process(plan_path: Path, config_path: Path | None, *, stack_config: Mapping[str, str] | None = None,
                   pack_dir: Path = pack_config.PACK_DIR) -> list[Finding]:
    """Every finding of the pack on `plan_path` with the pack config at `config_path` (None: the pack's defaults).

    `stack_config`: the stack's `project:key -> string` config, as the CLI hands it to a pack.
    """
    plan = load_plan(plan_path)
    config = pack_config.read_config_file(config_path)
    ctx = contextvars.copy_context()

    def run() -> list[Finding]:
        runtime_config.CONFIG.set(dict(stack_config or {}))
        return _run(plan, config, pack_dir)

    return ctx.run(run)
