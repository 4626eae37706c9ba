"""The gateway URL from the stack: an edge with a DNS name (public, or internal) decides it; everything else asks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from llmp.ide.base_url import resolve_base_url, stack_base_url
from llmp.ide.roles import IdeConfigError
from llmplatform.gateway.edge import client_base_url
from tests.ide.stacks import STACKS, config


def with_exposure(**exposure: object) -> SimpleNamespace:
    """A config carrying only `tenant_gateway.exposure` (the tenant edge's block, issue 17 item 1)."""
    return SimpleNamespace(tenant_gateway=SimpleNamespace(exposure=SimpleNamespace(**exposure)))


def test_a_public_edge_with_a_hostname_serves_https_on_it() -> None:
    assert stack_base_url(with_exposure(mode="public", hostname="llm.acme.example")) == "https://llm.acme.example/v1"


def test_an_internal_edge_with_a_hostname_serves_plain_http_on_litellms_port() -> None:
    assert stack_base_url(with_exposure(mode="internal", hostname="llm.corp.internal")) == \
        "http://llm.corp.internal:4000/v1"


@pytest.mark.parametrize("exposure", [{"mode": "internal", "hostname": None}, {"mode": "cluster", "hostname": None},
                                      {"mode": "cluster", "hostname": "ignored"}, {"mode": "public", "hostname": None}])
def test_an_edge_without_a_public_name_gives_no_url(exposure: dict) -> None:
    assert stack_base_url(with_exposure(**exposure)) is None


@pytest.mark.parametrize("stack", STACKS)
def test_the_repositorys_stacks_need_a_base_url_or_publish_one(stack: str) -> None:
    cfg = config(stack)
    url = stack_base_url(cfg)
    if url is None:
        with pytest.raises(IdeConfigError, match="pass --base-url"):
            resolve_base_url(cfg, stack, None)
    else:
        # the edge's own derivation (llmplatform.gateway.edge.client_base_url) plus /v1
        assert url == f"{client_base_url(cfg)}/v1" and url.startswith(("https://", "http://"))
    assert resolve_base_url(cfg, stack, "http://127.0.0.1:4000/v1/") == "http://127.0.0.1:4000/v1"
