"""Run the real pack the way the Pulumi CLI does: a `python -m pulumi.policy` process spoken to over gRPC.

1. Serve the Engine service (its `Log` RPC) on 127.0.0.1 and start
   `python -u -m pulumi.policy <engine address> <pack dir>` with the stack's config in PULUMI_CONFIG
   (and PULUMI_PROJECT / PULUMI_STACK / PULUMI_DRY_RUN), in the virtualenv PulumiPolicy.yaml names.
2. The pack prints the port of its Analyzer server on its first stdout line.
3. `GetAnalyzerInfo`, then `Configure` with every policy's explicit level and properties (resolved from
   the pack config like the CLI does), `ConfigureStack`, one `Analyze` per resource and one
   `AnalyzeStack` with all of them, as protobuf Structs.
4. Collect diagnostics and not-applicable answers; stop the pack with SIGINT (the pack's server
   stops on KeyboardInterrupt), then SIGKILL if it lingers.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2_grpc

from llmp.plan.crossguard import pack_config
from llmp.plan.crossguard.findings import ADVISORY, MANDATORY, NOT_APPLICABLE, STACK, Finding, sort_findings
from llmp.plan.crossguard.plan_input import Plan, analyze_request, analyze_stack_request, load_plan

STARTUP_TIMEOUT_S = 60.0
RPC_TIMEOUT_S = 120.0
_LEVEL_NAMES = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory",
                analyzer_pb2.REMEDIATE: "remediate", analyzer_pb2.DISABLED: "disabled"}
_LEVEL_VALUES = {v: k for k, v in _LEVEL_NAMES.items()}


class PackStartError(RuntimeError):
    """The pack process did not start or did not print its port; the message carries its stderr."""


class _Engine(engine_pb2_grpc.EngineServicer):
    """The slice of the engine a policy pack calls: Log (kept, so a run can show what the pack said)."""

    def __init__(self) -> None:
        self.logs: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def Log(self, request, context):  # noqa: N802 - gRPC method name
        with self._lock:
            self.logs.append((request.severity, request.message))
        return empty_pb2.Empty()


@dataclass
class GrpcRun:
    """What a gRPC run saw besides findings (for diagnosing the pack itself)."""

    findings: list[Finding]
    engine_logs: list[tuple[int, str]] = field(default_factory=list)
    stderr: str = ""


def _python_for(pack_dir: Path) -> str:
    """The interpreter of the virtualenv PulumiPolicy.yaml names (as the CLI would use), else this one."""
    doc = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text()) or {}
    runtime = doc.get("runtime")
    venv = ((runtime.get("options") or {}).get("virtualenv")) if isinstance(runtime, dict) else None
    if venv:
        candidate = (pack_dir / venv / "bin" / "python")
        if candidate.exists():
            return str(candidate)
    return sys.executable


class _Pipes:
    """Drains the pack's stdout (its first line is the port) and stderr, so a chatty pack never blocks."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.err: list[bytes] = []
        threading.Thread(target=self._pump, args=(proc.stdout, self.lines.put), daemon=True).start()
        self._err_thread = threading.Thread(target=self._pump, args=(proc.stderr, self.err.append), daemon=True)
        self._err_thread.start()

    @staticmethod
    def _pump(stream, sink) -> None:
        for line in iter(stream.readline, b""):
            sink(line)

    def port(self, timeout: float) -> int:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise PackStartError(f"the pack printed no port within {timeout:.0f}s") from None
        try:
            return int(line.decode().strip())
        except ValueError:
            raise PackStartError(f"the pack printed {line!r} instead of its port") from None

    def stderr(self) -> str:
        self._err_thread.join(timeout=5)
        return b"".join(self.err).decode(errors="replace")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _policy_config(settings: Mapping[str, pack_config.PolicySettings]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, s in settings.items():
        entry = analyzer_pb2.PolicyConfig(enforcementLevel=_LEVEL_VALUES[s.enforcement_level])
        if s.properties:
            entry.properties.CopyFrom(json_format.ParseDict(dict(s.properties), struct_pb2.Struct()))
        request.policyConfig[name].CopyFrom(entry)
    return request


def _finding(diag, default_urn: str, descriptions: Mapping[str, str]) -> Finding:
    level = _LEVEL_NAMES.get(diag.enforcementLevel, "advisory")
    message = diag.message
    prefix = descriptions.get(diag.policyName, "") + "\n"
    if message.startswith(prefix):
        message = message[len(prefix):]
    elif message == descriptions.get(diag.policyName):
        message = ""
    if message.startswith(f"can't run policy '{diag.policyName}'"):
        message = "can't run during preview: " + message.split(": ", 1)[-1]
    return Finding(diag.policyName, MANDATORY if level in ("mandatory", "remediate") else ADVISORY,
                   diag.urn or default_urn, message)


def _analyze(stub: analyzer_pb2_grpc.AnalyzerStub, plan: Plan, config: Mapping[str, Any],
             stack_cfg: Mapping[str, str]) -> list[Finding]:
    info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=RPC_TIMEOUT_S)
    summaries = [pack_config.PolicySummary(
        p.name, p.description, _LEVEL_NAMES[p.enforcementLevel],
        "stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
        json_format.MessageToDict(p.configSchema.properties)) for p in info.policies]
    settings = pack_config.resolve(summaries, config)
    stub.Configure(_policy_config(settings), timeout=RPC_TIMEOUT_S)
    stub.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(
        stack=plan.stack, project=plan.project, organization="organization", dry_run=True, config=dict(stack_cfg)),
        timeout=RPC_TIMEOUT_S)
    descriptions = {s.name: s.description for s in summaries}

    findings: list[Finding] = []

    def collect(response, default_urn: str) -> None:
        findings.extend(_finding(d, default_urn, descriptions) for d in response.diagnostics)
        findings.extend(Finding(n.policy_name, NOT_APPLICABLE, default_urn, n.reason) for n in response.not_applicable
                        if n.policy_name in descriptions)

    by_urn = plan.by_urn()
    for res in plan.resources:
        collect(stub.Analyze(analyze_request(res, by_urn), timeout=RPC_TIMEOUT_S), res.urn)
    collect(stub.AnalyzeStack(analyze_stack_request(plan), timeout=RPC_TIMEOUT_S), STACK)
    return findings


def run_grpc_detailed(plan_path: Path, config_path: Path | None, *, stack_config: Mapping[str, str] | None = None,
                      pack_dir: Path = pack_config.PACK_DIR) -> GrpcRun:
    """Like `run_grpc`, also returning what the pack logged through the engine and on stderr."""
    plan = load_plan(plan_path)
    config = pack_config.read_config_file(config_path)
    stack_cfg = dict(stack_config or {})

    engine = _Engine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(engine, server)
    engine_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    env = {**os.environ, "PULUMI_CONFIG": json.dumps(stack_cfg), "PULUMI_PROJECT": plan.project,
           "PULUMI_STACK": plan.stack, "PULUMI_DRY_RUN": "true", "PULUMI_ORGANIZATION": "organization"}
    env.pop("PULUMI_CONFIG_SECRET_KEYS", None)
    proc = subprocess.Popen([_python_for(pack_dir), "-u", "-m", "pulumi.policy", f"127.0.0.1:{engine_port}",
                             str(pack_dir)], cwd=pack_dir, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pipes = _Pipes(proc)
    try:
        try:
            port = pipes.port(STARTUP_TIMEOUT_S)
        except PackStartError as exc:
            _stop(proc)
            raise PackStartError(f"{exc}; pack stderr:\n{pipes.stderr()}") from None
        with grpc.insecure_channel(f"127.0.0.1:{port}",
                                   options=[("grpc.max_send_message_length", 400 * 1024 * 1024)]) as channel:
            grpc.channel_ready_future(channel).result(timeout=STARTUP_TIMEOUT_S)
            findings = _analyze(analyzer_pb2_grpc.AnalyzerStub(channel), plan, config, stack_cfg)
    finally:
        _stop(proc)
        server.stop(grace=None)
    stderr = pipes.stderr()
    return GrpcRun(sort_findings(findings), list(engine.logs), stderr)


def run_grpc(plan_path: Path, config_path: Path | None, *, stack_config: Mapping[str, str] | None = None,
             pack_dir: Path = pack_config.PACK_DIR) -> list[Finding]:
    """Every finding of the real pack process on `plan_path` with the pack config at `config_path`."""
    return run_grpc_detailed(plan_path, config_path, stack_config=stack_config, pack_dir=pack_dir).findings
