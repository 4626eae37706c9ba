"""bootstrap.sh, run for real in a sandbox: every command that would touch the machine (apt, curl,
systemctl, k3s, nvidia-smi, ...) is a stub on PATH that logs its call, and every path the script
writes sits under LLMP_ROOT. What the script would do to a VM is read back from those files."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.gates import require
from substrates.vast.cluster import (
    BOOTSTRAP_SCRIPT,
    CONTAINER_TOOLKIT_VERSION,
    DEVICE_PLUGIN_VERSION,
    GATEWAY_API_VERSION,
    K3S_VERSION,
)

STUBS = {
    "nvidia-smi": 'for _ in $(seq "$FAKE_GPUS"); do echo "NVIDIA GeForce RTX 4090"; done',
    "nvidia-ctk": '[ -f "$STATE/ctk" ] || exit 1; echo "NVIDIA Container Toolkit CLI version $(cat "$STATE/ctk")"',
    "gpg": 'while [ $# -gt 0 ]; do [ "$1" = -o ] && { cat >"$2"; exit 0; }; shift; done',
    "apt-get": '[ "$1" = install ] && for a in "$@"; do case "$a" in nvidia-container-toolkit=*)'
               ' v="${a#*=}"; echo "${v%%-*}" >"$STATE/ctk";; esac; done; exit 0',
    "systemctl": 'mkdir -p "$(dirname "$CONTAINERD")"; '
                 '[ -f "$STATE/ctk" ] && echo "nvidia-container-runtime" >"$CONTAINERD"; exit 0',
    "sleep": "exit 0",
    "curl": r'''
case "$*" in
  *get.k3s.io*) cat "$STATE/installer.sh";;
  *gpgkey*) echo KEY;;
  *gateway-api*) while [ "$1" != -o ]; do shift; done
    printf 'kind: CustomResourceDefinition\nmetadata:\n  annotations:\n    gateway.networking.k8s.io/bundle-version: %s\n' \
      "$LLMP_GATEWAY_API_VERSION" >"$2";;
esac''',
    "k3s": r'''
if [ "$1" = --version ]; then [ -f "$STATE/k3s" ] || exit 1; echo "k3s version $(cat "$STATE/k3s") (abcdef12)"; exit 0; fi
shift; args="$*"; manifest="$LLMP_ROOT/var/lib/rancher/k3s/server/manifests/llmp-nvidia-device-plugin.yaml"
replicas=1; grep -q "replicas:" "$manifest" 2>/dev/null && replicas="$(sed -n 's/.*replicas: *//p' "$manifest")"
case "$args" in
  *readyz*) exit 0;;
  *Ready*) echo True;;
  *"get runtimeclass nvidia"*) [ -f "$STATE/runtimeclass" ];;
  *"apply -f -"*) cat >"$STATE/runtimeclass";;
  *"get crd"*) [ -f "$LLMP_ROOT/var/lib/rancher/k3s/server/manifests/llmp-gateway-api-crds.yaml" ];;
  *allocatable*) [ -f "$manifest" ] && echo $((FAKE_GPUS * replicas));;
  *gpu\\.product*) [ -f "$manifest" ] || exit 0
     if [ "$replicas" -gt 1 ]; then echo NVIDIA-GeForce-RTX-4090-SHARED; else echo NVIDIA-GeForce-RTX-4090; fi;;
esac''',
}

INSTALLER = r'''
echo "INSTALL_K3S_VERSION=$INSTALL_K3S_VERSION INSTALL_K3S_EXEC=${INSTALL_K3S_EXEC:-} args=$*" >>"$STATE/installs"
echo "$INSTALL_K3S_VERSION" >"$STATE/k3s"
mkdir -p "$(dirname "$CONTAINERD")" "$LLMP_ROOT/etc/rancher/k3s"
[ -f "$STATE/ctk" ] && echo "nvidia-container-runtime" >"$CONTAINERD"
printf 'apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\n' \
  >"$LLMP_ROOT/etc/rancher/k3s/k3s.yaml"
'''


@dataclass
class Sandbox:
    root: Path
    state: Path
    env: dict[str, str]

    def run(self, mode: str = "bootstrap", **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-s", "--", mode], input=BOOTSTRAP_SCRIPT.read_text(), text=True,
                              capture_output=True, env={**self.env, **env}, timeout=60)

    def calls(self, stub: str) -> list[str]:
        log = self.state / "calls.log"
        return [line.split(" ", 1)[1] if " " in line else "" for line in log.read_text().splitlines()
                if line.split(" ", 1)[0] == stub] if log.exists() else []

    def clear_calls(self) -> None:
        (self.state / "calls.log").unlink(missing_ok=True)

    def k3s_config(self) -> dict:
        return yaml.safe_load((self.root / "etc/rancher/k3s/config.yaml").read_text())

    def device_plugin(self) -> dict:
        return yaml.safe_load((self.root / "var/lib/rancher/k3s/server/manifests/llmp-nvidia-device-plugin.yaml")
                              .read_text())


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    root, state, bin_dir = tmp_path / "root", tmp_path / "state", tmp_path / "bin"
    for d in (root, state, bin_dir):
        d.mkdir()
    (state / "installer.sh").write_text(INSTALLER)
    for name, body in STUBS.items():
        stub = bin_dir / name
        stub.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >>"$STATE/calls.log"\n{body}\n')
        stub.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), "LLMP_ROOT": str(root),
        "STATE": str(state), "CONTAINERD": str(root / "var/lib/rancher/k3s/agent/etc/containerd/config.toml"),
        "FAKE_GPUS": "2", "LLMP_PUBLIC_IP": "203.0.113.20", "LLMP_EXPECTED_GPUS": "2",
        "LLMP_TIME_SLICING_REPLICAS": "2", "LLMP_K3S_VERSION": K3S_VERSION,
        "LLMP_CTK_VERSION": CONTAINER_TOOLKIT_VERSION, "LLMP_DEVICE_PLUGIN_VERSION": DEVICE_PLUGIN_VERSION,
        "LLMP_GATEWAY_API_VERSION": GATEWAY_API_VERSION,
        "LLMP_POLL_SECONDS": "1", "LLMP_WAIT_SECONDS": "3",
    }
    return Sandbox(root=root, state=state, env=env)


def test_the_script_parses_and_passes_shellcheck() -> None:
    subprocess.run(["bash", "-n", str(BOOTSTRAP_SCRIPT)], check=True)
    require(shutil.which("shellcheck") is not None, "shellcheck not installed (apt-get install shellcheck)")
    proc = subprocess.run(["shellcheck", "-s", "bash", str(BOOTSTRAP_SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_a_fresh_vm_gets_the_pinned_toolkit_k3s_and_device_plugin(sandbox: Sandbox) -> None:
    proc = sandbox.run()
    assert proc.returncode == 0, proc.stderr
    installs = [c for c in sandbox.calls("apt-get") if c.startswith("install")]
    assert len(installs) == 1 and f"nvidia-container-toolkit={CONTAINER_TOOLKIT_VERSION}" in installs[0]
    assert (sandbox.state / "installs").read_text().startswith(f"INSTALL_K3S_VERSION={K3S_VERSION} ")
    chart = sandbox.device_plugin()
    assert chart["kind"] == "HelmChart" and chart["spec"]["version"] == DEVICE_PLUGIN_VERSION
    values = yaml.safe_load(chart["spec"]["valuesContent"])
    assert values["runtimeClassName"] == "nvidia" and values["gfd"] == {"enabled": True}
    sharing = yaml.safe_load(values["config"]["map"][values["config"]["default"]])["sharing"]["timeSlicing"]
    assert sharing["resources"] == [{"name": "nvidia.com/gpu", "replicas": 2}]
    assert sharing["failRequestsGreaterThanOne"] is True
    assert (sandbox.state / "runtimeclass").read_text().count("handler: nvidia") == 1
    crds = (sandbox.root / "var/lib/rancher/k3s/server/manifests/llmp-gateway-api-crds.yaml").read_text()
    assert f"bundle-version: {GATEWAY_API_VERSION}" in crds
    assert any(f"gateway-api/releases/download/{GATEWAY_API_VERSION}/standard-install.yaml" in c
               for c in sandbox.calls("curl"))
    assert "node advertises 4 nvidia.com/gpu, product NVIDIA-GeForce-RTX-4090-SHARED" in proc.stderr


def test_k3s_keeps_its_network_policy_controller_and_drops_only_traefik(sandbox: Sandbox) -> None:
    assert sandbox.run().returncode == 0
    config = sandbox.k3s_config()
    assert config == {"write-kubeconfig-mode": "0600", "disable": ["traefik"], "tls-san": ["203.0.113.20"]}
    assert not any("network-policy" in str(k) or "network-policy" in str(v) for k, v in config.items())
    assert "network-policy" not in (sandbox.state / "installs").read_text()
    assert oct((sandbox.root / "etc/rancher/k3s/config.yaml").stat().st_mode & 0o777) == "0o600"


def test_a_second_run_changes_nothing(sandbox: Sandbox) -> None:
    assert sandbox.run().returncode == 0
    sandbox.clear_calls()
    proc = sandbox.run()
    assert proc.returncode == 0, proc.stderr
    assert not [c for c in sandbox.calls("apt-get") if c.startswith("install")]
    assert not sandbox.calls("systemctl") and not sandbox.calls("curl")
    assert (sandbox.state / "installs").read_text().count("\n") == 1


def test_a_new_public_ip_rewrites_the_config_and_restarts_k3s_without_reinstalling(sandbox: Sandbox) -> None:
    assert sandbox.run().returncode == 0
    sandbox.clear_calls()
    assert sandbox.run(LLMP_PUBLIC_IP="198.51.100.7").returncode == 0
    assert sandbox.calls("systemctl") == ["restart k3s"]
    assert sandbox.k3s_config()["tls-san"] == ["198.51.100.7"]
    assert not sandbox.calls("curl")


def test_k3s_is_restarted_when_it_started_before_the_toolkit_existed(sandbox: Sandbox) -> None:
    assert sandbox.run().returncode == 0
    Path(sandbox.env["CONTAINERD"]).unlink()  # k3s came up without the nvidia runtime
    sandbox.clear_calls()
    proc = sandbox.run()
    assert proc.returncode == 0, proc.stderr
    assert sandbox.calls("systemctl") == ["restart k3s"]
    assert "restarting k3s so it detects the toolkit" in proc.stderr
    assert "nvidia-container-runtime" in Path(sandbox.env["CONTAINERD"]).read_text()


def test_without_time_slicing_the_device_plugin_gets_no_sharing_config(sandbox: Sandbox) -> None:
    proc = sandbox.run(LLMP_TIME_SLICING_REPLICAS="1")
    assert proc.returncode == 0, proc.stderr
    values = yaml.safe_load(sandbox.device_plugin()["spec"]["valuesContent"])
    assert "config" not in values
    assert "node advertises 2 nvidia.com/gpu, product NVIDIA-GeForce-RTX-4090" in proc.stderr


def test_a_vm_with_fewer_gpus_than_rented_stops_the_bootstrap(sandbox: Sandbox) -> None:
    proc = sandbox.run(FAKE_GPUS="1")
    assert proc.returncode != 0
    assert "shows 1 GPU(s), the stack rented 2" in proc.stderr
    assert not sandbox.calls("curl")


def test_missing_inputs_are_named(sandbox: Sandbox) -> None:
    proc = sandbox.run(LLMP_K3S_VERSION="")
    assert proc.returncode != 0 and "LLMP_K3S_VERSION is not set" in proc.stderr


def test_the_kubeconfig_points_at_vasts_public_port_for_the_api(sandbox: Sandbox) -> None:
    assert sandbox.run().returncode == 0
    (sandbox.root / "etc/environment").write_text('PATH="/usr/bin"\nVAST_TCP_PORT_6443="41234"\n')
    proc = sandbox.run("kubeconfig")
    assert proc.returncode == 0, proc.stderr
    assert "server: https://203.0.113.20:41234" in proc.stdout and "127.0.0.1" not in proc.stdout


def test_without_a_port_mapping_the_kubeconfig_uses_the_api_port_itself(sandbox: Sandbox) -> None:
    assert sandbox.run().returncode == 0
    proc = sandbox.run("kubeconfig")
    assert proc.returncode == 0 and "server: https://203.0.113.20:6443" in proc.stdout


def test_the_kubeconfig_mode_refuses_to_run_before_the_bootstrap(sandbox: Sandbox) -> None:
    proc = sandbox.run("kubeconfig")
    assert proc.returncode != 0 and "run the bootstrap first" in proc.stderr


def test_unprivileged_pods_get_gpus_only_through_the_device_plugins_volume_mounts(sandbox: Sandbox) -> None:
    # Issue 15 defect 2: without these two settings an unprivileged pod with the nvidia runtime class and
    # NVIDIA_VISIBLE_DEVICES=all sees every GPU without requesting one.
    proc = sandbox.run()
    assert proc.returncode == 0, proc.stderr
    (config,) = [c for c in sandbox.calls("nvidia-ctk") if c.startswith("config ")]
    args = config.split()
    assert f"--config-file={sandbox.root}/etc/nvidia-container-runtime/config.toml" in args and "--in-place" in args
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    assert sets == ["accept-nvidia-visible-devices-envvar-when-unprivileged=false",
                    "accept-nvidia-visible-devices-as-volume-mounts=true"]
    # ... and the device plugin hands allocated GPUs over the same way (the chart then adds CAP_SYS_ADMIN to
    # the plugin itself, which the toolkit counts as privileged).
    chart = sandbox.device_plugin()
    assert yaml.safe_load(chart["spec"]["valuesContent"])["deviceListStrategy"] == "volume-mounts"
    # SR2 exempts the plugin's namespace on Vast (its pods use the runtime class and the variable).
    from substrates.vast.substrate import DEVICE_PLUGIN_NAMESPACE
    assert chart["spec"]["targetNamespace"] == DEVICE_PLUGIN_NAMESPACE
    # configured before k3s starts containers, on every run (the runtime re-reads it per container)
    calls = (sandbox.state / "calls.log").read_text().splitlines()
    assert min(i for i, c in enumerate(calls) if c.startswith("nvidia-ctk config")) < \
        min(i for i, c in enumerate(calls) if c.startswith("k3s "))
