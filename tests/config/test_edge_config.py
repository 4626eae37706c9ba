"""`tenant_gateway.exposure`: the three modes load, and every bad combination is refused naming its key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from llmplatform.config import ConfigError, load_platform_config
from llmplatform.config.model import CertificateKind, ExposureMode

ROOT = Path(__file__).resolve().parents[2]


def stack_raw(stack: str) -> dict:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items()}


def with_exposure(stack: str, exposure: dict) -> dict:
    raw = copy.deepcopy(stack_raw(stack))
    raw.setdefault("tenant_gateway", {})["exposure"] = exposure
    return raw


def refusal(stack: str, exposure: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_platform_config(with_exposure(stack, exposure))
    return str(info.value)


def test_dev_stays_cluster_prod_is_internal_and_the_public_stack_is_public_with_a_managed_certificate():
    assert load_platform_config(stack_raw("dev")).tenant_gateway.exposure.mode == ExposureMode.CLUSTER
    prod = load_platform_config(stack_raw("prod")).tenant_gateway.exposure
    assert prod.mode == ExposureMode.INTERNAL and prod.client_cidrs and prod.certificate is None
    public = load_platform_config(stack_raw("public")).tenant_gateway.exposure
    assert public.mode == ExposureMode.PUBLIC and public.hostname
    assert public.certificate is not None and public.certificate.kind == CertificateKind.MANAGED


def test_a_referenced_secret_certificate_is_accepted_on_public():
    cfg = load_platform_config(with_exposure("public", {
        "mode": "public", "client_cidrs": ["203.0.113.0/24"], "hostname": "llm.example.com",
        "certificate": {"kind": "secret", "secret_name": "llm-example-tls"}}))
    assert cfg.tenant_gateway.exposure.certificate.secret_name == "llm-example-tls"


def test_plaintext_key_material_is_refused_with_its_key_named_and_never_echoed():
    text = refusal("public", {"mode": "public", "client_cidrs": ["203.0.113.0/24"], "hostname": "llm.example.com",
                              "certificate": {"kind": "secret", "tls_key": "-----BEGIN PRIVATE KEY-----\nMIIE"}})
    assert "tenant_gateway.exposure.certificate.tls_key" in text and "plaintext" in text
    assert "MIIE" not in text


def test_public_without_hostname_or_certificate_is_refused_naming_both_keys():
    text = refusal("public", {"mode": "public", "client_cidrs": ["203.0.113.0/24"]})
    assert "tenant_gateway.exposure.hostname" in text and "tenant_gateway.exposure.certificate" in text
    assert "plain HTTP" in text


def test_client_ranges_are_required_and_judged_like_the_control_plane_networks():
    assert "tenant_gateway.exposure.client_cidrs" in refusal("prod", {"mode": "internal"})
    text = refusal("prod", {"mode": "internal", "client_cidrs": ["8.8.8.0/24", "10.0.0.1/8"]})
    assert "client_cidrs[0]: '8.8.8.0/24'" in text and "private range" in text
    assert "client_cidrs[1]: '10.0.0.1/8'" in text and "host bits zero" in text
    text = refusal("public", {"mode": "public", "client_cidrs": ["10.128.0.0/16"], "hostname": "llm.example.com",
                              "certificate": {"kind": "managed"}})
    assert "client_cidrs[0]: '10.128.0.0/16'" in text and "public range" in text


@pytest.mark.parametrize("exposure,key", [
    ({"client_cidrs": ["10.0.0.0/8"]}, "tenant_gateway.exposure.client_cidrs"),
    ({"hostname": "llm.example.com"}, "tenant_gateway.exposure.hostname"),
    ({"mode": "internal", "client_cidrs": ["10.0.0.0/8"], "certificate": {"kind": "managed"}},
     "tenant_gateway.exposure.certificate"),
    ({"mode": "public", "client_cidrs": ["203.0.113.0/24"], "hostname": "llm.example.com",
      "certificate": {"kind": "secret"}}, "tenant_gateway.exposure.certificate.secret_name"),
    ({"mode": "public", "client_cidrs": ["203.0.113.0/24"], "hostname": "https://llm.example.com",
      "certificate": {"kind": "managed"}}, "tenant_gateway.exposure.hostname"),
    ({"mode": "edge"}, "tenant_gateway.exposure.mode"),
], ids=["cidrs-on-cluster", "hostname-on-cluster", "certificate-on-internal", "secret-without-name",
        "hostname-with-scheme", "unknown-mode"])
def test_each_contradiction_names_its_key(exposure, key):
    assert key in refusal("prod", exposure)


def test_vast_refuses_any_edge_but_cluster_as_a_substrate_capability():
    text = refusal("vast", {"mode": "internal", "client_cidrs": ["10.0.0.0/8"]})
    assert "tenant_gateway.exposure.mode: 'internal'" in text and "substrate vast supports only: cluster" in text
