"""VastCluster and build_vast under recording mocks: children, inputs, secrecy, providers."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.errors import InputPropertiesError

from llmplatform.config import VastSubstrate
from substrates.vast.cluster import (
    API_PORT,
    BOOTSTRAP_SCRIPT,
    CONTAINER_TOOLKIT_VERSION,
    DEVICE_PLUGIN_VERSION,
    GATEWAY_API_VERSION,
    K3S_VERSION,
    VastCluster,
    VastClusterArgs,
)
from substrates.vast.host import VastHost
from substrates.vast.substrate import build_vast

CFG = VastSubstrate(kind="vast", gpu_name="RTX_4090", num_gpus=2, max_dph_usd=1.0, time_slicing_replicas=2)


def args(**overrides: object) -> VastClusterArgs:
    return VastClusterArgs(**{**VastClusterArgs.from_config("t", CFG).__dict__, **overrides})


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_the_cluster_is_a_host_two_ssh_commands_and_a_kubernetes_provider(recorder):
    recorder.run(lambda: VastCluster("vast", args()))
    root = recorder.named("vast")
    assert root.type == VastCluster.TYPE_TOKEN == "llmplatform:vast_cluster:VastCluster"
    kids = {c.name: c.type for c in recorder.children_of(root)}
    assert kids == {"vast-host": VastHost.TYPE_TOKEN, "vast-bootstrap": "command:remote:Command",
                    "vast-kubeconfig": "command:remote:Command", "vast-k8s": "pulumi:providers:kubernetes"}
    assert len(recorder.registrations) == 5


def test_the_host_is_rented_as_configured_with_the_api_port_exposed_and_a_findable_label(recorder):
    recorder.run(lambda: VastCluster("vast", args()))
    host = recorder.inputs(recorder.named("vast-host"))
    assert host["gpu_name"] == "RTX_4090" and host["num_gpus"] == 2 and host["max_dph_usd"] == 1
    assert host["ports"] == [API_PORT] and host["label"] == "llmp-t"
    assert host["image"].startswith("docker.io/vastai/kvm:")


def test_the_bootstrap_pipes_the_script_file_with_pinned_versions_and_the_public_ip(recorder):
    recorder.run(lambda: VastCluster("vast", args()))
    boot = recorder.named("vast-bootstrap")
    inputs = recorder.inputs(boot)
    assert inputs["stdin"] == BOOTSTRAP_SCRIPT.read_text()
    create = inputs["create"]
    assert create.endswith("bash -s -- bootstrap")
    for assign in (f"LLMP_K3S_VERSION={K3S_VERSION}", f"LLMP_CTK_VERSION={CONTAINER_TOOLKIT_VERSION}",
                   f"LLMP_DEVICE_PLUGIN_VERSION={DEVICE_PLUGIN_VERSION}", "LLMP_EXPECTED_GPUS=2",
                   f"LLMP_GATEWAY_API_VERSION={GATEWAY_API_VERSION}",
                   "LLMP_TIME_SLICING_REPLICAS=2", "LLMP_PUBLIC_IP=203.0.113.20"):
        assert assign in create.split()
    # A new rental re-runs the bootstrap; the connection (host, key) is secret in state.
    assert inputs["triggers"] == ["10000001"]
    assert inputs["connection"]["host"] == "[secret]" and inputs["connection"]["user"] == "[secret]"
    assert recorder.named("vast-host").urn in boot.dependencies


def test_the_kubeconfig_is_fetched_after_the_bootstrap_kept_out_of_logs_and_secret(recorder):
    comp = recorder.run(lambda: VastCluster("vast", args()))
    fetch = recorder.named("vast-kubeconfig")
    assert recorder.inputs(fetch)["create"].endswith("bash -s -- kubeconfig")
    assert recorder.inputs(fetch)["logging"] == "stderr"
    assert "stdout" in fetch.additional_secret_outputs
    assert recorder.named("vast-bootstrap").urn in fetch.dependencies
    value, is_secret = recorder.resolve(comp.kubeconfig)
    assert is_secret and "server: https://203.0.113.20:6443" in value
    provider = recorder.named("vast-k8s")
    assert recorder.inputs(provider)["kubeconfig"] == "[secret]"
    assert fetch.urn in provider.dependencies


def test_an_ssh_key_given_in_plain_text_still_ends_up_secret(recorder):
    recorder.run(lambda: VastCluster("vast", args(ssh_private_key="-----BEGIN OPENSSH PRIVATE KEY-----x")))
    for name in ("vast-bootstrap", "vast-kubeconfig"):
        inputs = recorder.inputs(recorder.named(name))
        assert inputs["connection"]["privateKey"] == "[secret]"
        assert "BEGIN OPENSSH" not in str(inputs)


def test_build_vast_hands_back_the_clusters_provider_and_the_vast_capabilities(recorder):
    sub = recorder.run(lambda: build_vast("vast", "t", CFG, ssh_private_key=pulumi.Output.secret("k")))
    assert isinstance(sub.root, VastCluster) and sub.provider is sub.root.kubernetes_provider
    assert sub.capabilities.runtime_class_name == "nvidia"
    assert sub.capabilities.gpu_product_label_values == ("NVIDIA-GeForce-RTX-4090-SHARED",)
    assert recorder.resolve(sub.kubeconfig)[1]


def test_every_invalid_input_is_reported_at_once_before_anything_is_registered(recorder):
    bad = args(num_gpus=0, time_slicing_replicas=0, k3s_version="latest", ssh_user="Root!")
    with pytest.raises(InputPropertiesError) as info:
        VastCluster("vast", bad)
    paths = sorted(e["property_path"] for e in info.value.errors)
    assert paths == ["k3s_version", "num_gpus", "ssh_user", "time_slicing_replicas"]


def test_an_unknown_gpu_fails_before_a_host_is_rented(recorder):
    cfg = VastSubstrate(kind="vast", gpu_name="GTX_1080")
    with pytest.raises(ValueError, match="GTX_1080"):
        recorder.run(lambda: build_vast("vast", "t", cfg))
    assert not recorder.of_type(VastHost.TYPE_TOKEN)
