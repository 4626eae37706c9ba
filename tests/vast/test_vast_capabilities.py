"""What the Vast substrate tells the serving layer, as pure functions of its config."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplatform.config import VastSubstrate
from substrates.capabilities import GatewayImplementation
from substrates.vast.substrate import (
    GFD_PRODUCT_LABEL,
    NVML_PRODUCT_NAMES,
    gfd_product_label_value,
    gpu_product_label_values,
    vast_capabilities,
)

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def vast(**kw: object) -> VastSubstrate:
    return VastSubstrate.model_validate({"kind": "vast", **kw})


def test_a_2x4090_vm_without_time_slicing_is_selected_by_gfds_product_label() -> None:
    caps = vast_capabilities(vast(gpu_name="RTX_4090", num_gpus=2))
    assert caps.gpu_product_label_key == GFD_PRODUCT_LABEL == "nvidia.com/gpu.product"
    assert caps.gpu_product_label_values == ("NVIDIA-GeForce-RTX-4090",)
    assert caps.gpus_per_node == 2 and caps.gpu_resource_name == "nvidia.com/gpu"
    assert caps.gpu_time_slicing_replicas == 1 and caps.gpu_memory_utilization == 0.9


def test_time_slicing_renames_the_label_with_shared_and_lowers_the_memory_fraction() -> None:
    caps = vast_capabilities(vast(gpu_name="RTX_4090", num_gpus=2, time_slicing_replicas=2))
    assert caps.gpu_product_label_values == ("NVIDIA-GeForce-RTX-4090-SHARED",)
    assert caps.gpu_time_slicing_replicas == 2 and caps.gpu_memory_utilization == 0.45


def test_k3s_facts_runtime_class_local_path_no_load_balancer_enforced_network_policy_untainted() -> None:
    caps = vast_capabilities(vast())
    assert caps.runtime_class_name == "nvidia"
    assert caps.storage_class == "local-path"
    assert caps.load_balancer_available is False
    assert caps.network_policy_enforced is True
    assert caps.gpu_taint is None
    assert caps.mig_available is False
    assert caps.gateway == GatewayImplementation.ISTIO


def test_a_vast_name_that_covers_several_memory_sizes_allows_each_spelling() -> None:
    assert gpu_product_label_values("A100_SXM4", 1) == ("NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-SXM4-80GB")


def test_spaces_underscores_and_case_in_the_vast_name_do_not_matter() -> None:
    assert gpu_product_label_values("rtx 4090", 1) == gpu_product_label_values("RTX_4090", 1)


def test_an_unknown_gpu_is_refused_with_the_allowed_names_and_the_fix() -> None:
    with pytest.raises(ValueError) as info:
        vast_capabilities(vast(gpu_name="GTX_1080"))
    message = str(info.value)
    assert "GTX_1080" in message and "RTX_4090" in message and "NVML_PRODUCT_NAMES" in message


@pytest.mark.parametrize("nvml", sorted({n for names in NVML_PRODUCT_NAMES.values() for n in names}))
@pytest.mark.parametrize("shared", [False, True])
def test_every_known_product_label_is_a_valid_kubernetes_label_value(nvml: str, shared: bool) -> None:
    value = gfd_product_label_value(nvml, shared=shared)
    assert LABEL_VALUE.match(value) and len(value) <= 63
    assert value.endswith("-SHARED") == shared


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_gfd_sanitising_keeps_label_safe_characters_in_order_and_turns_blanks_into_dashes(name: str) -> None:
    value = gfd_product_label_value(name, shared=False)
    assert re.fullmatch(r"[A-Za-z0-9\-_.]*", value)
    kept = re.sub(r"[^A-Za-z0-9\-_.]", "", name)
    assert value.replace("-", "") == kept.replace("-", "")
