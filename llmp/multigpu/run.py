"""The orchestration behind `llmp validate-multigpu`: read the stack's expectations, probe the
cluster, run the criteria in a safe order (time-slicing facts, fan-out, then the disruptive
rollout), and write one JSON report.

Expectations come from the stack config (`Pulumi.<stack>.yaml`) through the same capability object
the program renders with, so "as configured" means what was deployed, not what the cluster says.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from llmplatform import naming, ports
from llmplatform.config import ModelSpec, PlatformConfig, VastSubstrate
from llmplatform.config.stack_file import load_stack_file
from llmplatform.serving import names, routing, vllm
from llmp.multigpu import fanout, rollout, timeslicing
from llmp.multigpu.kube import KubeApiError, KubeClient, load_kubeconfig
from llmp.multigpu.loadgen import LoadResult, LoadSpec, Target, run_load
from llmp.multigpu.report import CriterionResult, Status, build_report, write_report
from substrates.capabilities import SubstrateCapabilities

CRITERIA = (timeslicing.NAME, fanout.NAME, rollout.NAME)
"""Run order: read-only facts first, the disruptive rollout last."""
RUN_ERRORS = (ValueError, OSError, KubeApiError, httpx.HTTPError)
"""Errors that mean "cannot run" (bad input, unreachable API server), reported without a traceback."""


@dataclass(frozen=True, kw_only=True)
class ValidationOptions:
    kubeconfig: str
    """Path to a kubeconfig, or its text."""
    project_dir: Path
    stack: str
    """Stack whose config states the expected GPUs, time-slicing and models."""
    base_url: str | None = None
    """OpenAI base URL of the inference gateway (e.g. a `kubectl port-forward`); needed by fanout/rollout."""
    api_key: str | None = None
    """Bearer key for the gateway; None: read the model servers' key Secret through the API."""
    model: str | None = None
    """Model `name`; None: the first with min_replicas >= 2 (else the first)."""
    context: str | None = None
    criteria: tuple[str, ...] = CRITERIA
    fanout_load: LoadSpec = LoadSpec(requests=300, duration_s=120.0, concurrency=12)
    rollout_load: LoadSpec = LoadSpec(requests=100_000, duration_s=1.0, concurrency=4)
    """The rollout replaces the duration with warm-up + timeout + settle; `requests` stays a bound."""
    fanout_thresholds: fanout.FanoutThresholds = fanout.FanoutThresholds()
    rollout_timing: rollout.RolloutTiming = rollout.RolloutTiming()
    dph_usd: float | None = None
    """Price per hour for the cost line; None: the stack's `max_dph_usd` (an upper bound) if any."""
    out_dir: Path = Path("build/validate-multigpu")
    extra_machine: dict[str, Any] = field(default_factory=dict)


def load_stack_config(project_dir: Path, stack: str) -> PlatformConfig:
    """`Pulumi.<stack>.yaml` validated exactly as the program validates it. Encrypted values
    (`secure:`, e.g. the SSH key or the HF token) are skipped: the kit needs none of them."""
    return load_stack_file(project_dir, stack)


def capabilities_for(cfg: PlatformConfig) -> SubstrateCapabilities:
    """The capability object the program renders this stack with (substrate builders' pure half)."""
    if isinstance(cfg.substrate, VastSubstrate):
        from substrates.vast.substrate import vast_capabilities

        return vast_capabilities(cfg.substrate)
    from substrates.gke import gke_capabilities

    return gke_capabilities(cfg.gpu_pool)


def pick_model(cfg: PlatformConfig, name: str | None) -> ModelSpec:
    if name is not None:
        found = [m for m in cfg.models if m.name == name]
        if not found:
            raise ValueError(f"--model {name!r} is not a configured model: {', '.join(m.name for m in cfg.models)}")
        return found[0]
    return next((m for m in cfg.models if m.min_replicas >= 2), cfg.models[0])


def _ready(pod: dict[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return (pod.get("status") or {}).get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def pod_aliases(pods: list[dict[str, Any]]) -> dict[str, str]:
    """Pod name, IP and `IP:port` -> pod name: headers may name a pod by any of them."""
    out = {}
    for pod in pods:
        name = pod["metadata"]["name"]
        out[name] = name
        ip = (pod.get("status") or {}).get("podIP")
        if ip:
            out[ip] = name
            out[f"{ip}:{ports.VLLM_HTTP}"] = name
    return out


async def _metrics_snapshot(kube: KubeClient, pods: list[str], served_name: str) -> dict[str, float] | None:
    try:
        texts = await asyncio.gather(*(kube.pod_metrics(naming.NS_SERVING, p, ports.VLLM_HTTP) for p in pods))
    except Exception:  # noqa: BLE001 - any failure (RBAC, NetworkPolicy, parse) means: no metric attribution
        return None
    return {p: fanout.metric_total(t, fanout.VLLM_SUCCESS_METRIC, {"model_name": served_name})
            for p, t in zip(pods, texts, strict=True)}


async def _fanout(kube: KubeClient, target: Target, model: ModelSpec, opts: ValidationOptions) -> CriterionResult:
    pods = [p for p in await kube.pods(naming.NS_SERVING, vllm.selector_labels(model)) if _ready(p)]
    expected = sorted(p["metadata"]["name"] for p in pods)
    before = await _metrics_snapshot(kube, expected, model.served_name)
    load: LoadResult = await run_load(target, opts.fanout_load)
    aliases = pod_aliases(pods)
    ok = [r for r in load.records if r.ok]
    if ok and all(r.served_by for r in ok):
        counts: dict[str, float] = {}
        for r in ok:
            pod = aliases.get(r.served_by or "", r.served_by or "")
            counts[pod] = counts.get(pod, 0.0) + 1
        attribution = "response header"
    else:
        after = await _metrics_snapshot(kube, expected, model.served_name)
        counts = fanout.counts_from_metrics(before, after) if before is not None and after is not None else {}
        attribution = f"{fanout.VLLM_SUCCESS_METRIC} delta per pod" if counts else \
            "none (no pod header, and pod metrics unreachable through the API server)"
    return fanout.evaluate_fanout(load, counts, expected, attribution=attribution, thresholds=opts.fanout_thresholds)


async def validate(opts: ValidationOptions) -> dict[str, Any]:
    """Run the selected criteria against the cluster and return the report (not yet written)."""
    unknown = sorted(set(opts.criteria) - set(CRITERIA))
    if unknown:
        raise ValueError(f"unknown criteria {unknown}; choose from {', '.join(CRITERIA)}")
    if opts.base_url is None and {fanout.NAME, rollout.NAME} & set(opts.criteria):
        raise ValueError("fanout and rollout need --base-url: the inference gateway's address, e.g. after "
                         f"`kubectl -n {naming.NS_GATEWAY} port-forward svc/{names.GATEWAY_SERVICE} 8080:{ports.GATEWAY_HTTP}` "
                         "use --base-url http://127.0.0.1:8080 (or run only --only timeslicing)")
    cfg = load_stack_config(opts.project_dir, opts.stack)
    caps = capabilities_for(cfg)
    model = pick_model(cfg, opts.model)
    started = time.time()
    results: list[CriterionResult] = []
    async with KubeClient(load_kubeconfig(opts.kubeconfig, context=opts.context)) as kube:
        nodes = await kube.nodes()
        target = None
        if opts.base_url is not None:
            key = opts.api_key or await kube.secret_value(naming.NS_SERVING, names.API_KEY_SECRET,
                                                          names.API_KEY_SECRET_KEY)
            target = Target(base_url=opts.base_url, model=model.served_name,
                            headers={"Authorization": f"Bearer {key}", **routing.model_headers(model)})
        for name in CRITERIA:
            if name not in opts.criteria:
                results.append(CriterionResult(name=name, status=Status.SKIPPED, summary="not selected (--only)"))
            elif name == timeslicing.NAME:
                pods = await kube.pods(naming.NS_SERVING, vllm.selector_labels(model))
                results.append(timeslicing.evaluate_time_slicing(
                    timeslicing.gpu_nodes(nodes, caps), timeslicing.gpu_pods(pods, caps), caps))
            elif name == fanout.NAME:
                assert target is not None
                results.append(await _fanout(kube, target, model, opts))
            else:
                assert target is not None
                driver = rollout.DeploymentRollout(kube, naming.NS_SERVING, names.vllm(model.name))
                results.append(await rollout.check_rollout(target, opts.rollout_load, driver, opts.rollout_timing))
    finished = time.time()
    dph, source = opts.dph_usd, "--dph-usd"
    if dph is None and isinstance(cfg.substrate, VastSubstrate):
        dph, source = cfg.substrate.max_dph_usd, f"Pulumi.{opts.stack}.yaml max_dph_usd (upper bound)"
    elif dph is None:
        source = "unknown: pass --dph-usd"
    return build_report(
        criteria=results, nodes=nodes, started_at=started, finished_at=finished, dph_usd=dph, dph_source=source,
        gpu_resource=caps.gpu_resource_name,
        target={"stack": opts.stack, "substrate": caps.display_name, "model": model.name,
                "servedName": model.served_name, "baseUrl": opts.base_url, "apiServer": kube.access.server,
                "criteria": list(opts.criteria)},
        extra_machine=opts.extra_machine,
    )


def run_validation(opts: ValidationOptions) -> tuple[dict[str, Any], Path]:
    """`validate` then write the report; returns (report, path)."""
    report = asyncio.run(validate(opts))
    return report, write_report(report, opts.out_dir)


def print_summary(report: dict[str, Any], path: Path, console: Any) -> None:
    """One line per criterion (with its failures), the cost and where the report is (rich console)."""
    for name, result in report["criteria"].items():
        colour = {"pass": "green", "fail": "red"}.get(result["status"], "yellow")
        console.print(f"[{colour}]{result['status']:>7}[/] {name}: {result['summary']}", highlight=False)
        for reason in result["failures"]:
            console.print(f"          - {reason}", highlight=False)
    console.print(f"cost: {report['cost']['usd']} USD ({report['cost']['source']}); report: {path}", highlight=False)
