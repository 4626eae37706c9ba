"""`llmp ide-config`: a checked client file for every stack and client; exit 2 with a clear message for what it
cannot serve; the key never written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmp.cli import app
from llmp.ide.checks import problems
from llmp.ide.clients import Client, load
from llmp.ide.roles import choose_models
from tests.ide.stacks import BASE_URL, CLIENTS, STACKS, config, project_with
from tests.support.gates import REPO_ROOT

runner = CliRunner()
KEY = "sk-tenant-key-that-must-never-be-written-0123456789"


def ide_config(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["ide-config", *args], env={"LLMP_API_KEY": KEY, **(env or {})})


def usable(cfg, tenant, client: str) -> bool:
    """Continue chats or autocompletes (`completions` with FIM tokens); opencode only chats."""
    models = [m for m in cfg.models if m.name in tenant.allowed_models]
    return any("chat" in m.capabilities or (client == "continue" and "completions" in m.capabilities and m.fim)
               for m in models)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("stack", STACKS)
def test_every_tenant_of_every_stack_gets_a_checked_file_without_its_key(stack: str, client: str,
                                                                         tmp_path: Path) -> None:
    cfg = config(stack)
    for tenant in cfg.tenants:
        out = tmp_path / tenant.name / "config"
        result = ide_config(stack, "-C", str(REPO_ROOT), "--tenant", tenant.name, "--client", client,
                            "--base-url", BASE_URL + "/", "-o", str(out))
        if not usable(cfg, tenant, client):
            assert result.exit_code == 2, result.output
            assert f"tenant {tenant.name!r} on stack {stack} has no model {client} can use" in result.stderr
            assert not out.exists()
            continue
        assert result.exit_code == 0, result.output
        text = out.read_text()
        assert KEY not in text and "sk-" not in text
        models = choose_models(cfg, tenant.name, stack)
        assert problems(Client(client), load(Client(client), text), text, models, BASE_URL) == []
        assert f"tenant {tenant.name} on {stack} via {BASE_URL}: chat " in result.stderr


def test_a_tenant_with_only_a_fim_model_gets_autocomplete_in_continue_and_nothing_in_opencode(
        tmp_path: Path) -> None:
    cfg = config("prod")
    fim_only = next(m for m in cfg.models if {str(getattr(c, "value", c)) for c in m.capabilities} == {"completions"})
    project = project_with(tmp_path, "prod", lambda c: c["tenants"][0].update(allowed_models=[fim_only.name]))
    tenant = cfg.tenants[0].name
    cont = ide_config("prod", "-C", str(project), "--tenant", tenant, "--client", "continue", "--base-url", BASE_URL)
    assert cont.exit_code == 0, cont.output
    assert [m["roles"] for m in load(Client.CONTINUE, cont.stdout)["models"]] == [["autocomplete"]]
    assert f"note: no chat: none of tenant {tenant}'s models has capability chat" in cont.stderr
    oc = ide_config("prod", "-C", str(project), "--tenant", tenant, "--client", "opencode", "--base-url", BASE_URL)
    assert oc.exit_code == 2
    assert (f"tenant {tenant!r} on stack prod has no model opencode can use: it needs one with capability `chat` "
            f"among the tenant's allowed_models, which are {fim_only.name} (completions; fim qwen-coder)") in oc.stderr


def test_without_output_the_file_goes_to_stdout_and_the_summary_to_stderr() -> None:
    result = ide_config("prod", "-C", str(REPO_ROOT), "--tenant", config("prod").tenants[0].name,
                        "--client", "opencode", "--base-url", BASE_URL)
    assert result.exit_code == 0, result.output
    doc: Any = load(Client.OPENCODE, result.stdout)
    assert doc["provider"]["llm-platform"]["options"] == {"baseURL": BASE_URL, "apiKey": "{env:LLMP_API_KEY}"}
    assert "note: the key is read from $LLMP_API_KEY" in result.stderr


def test_an_unknown_tenant_exits_2_naming_the_tenants_there() -> None:
    result = ide_config("prod", "-C", str(REPO_ROOT), "--tenant", "nobody", "--client", "continue",
                        "--base-url", BASE_URL)
    assert result.exit_code == 2
    names = ", ".join(t.name for t in config("prod").tenants)
    assert f"unknown tenant 'nobody' on stack prod; tenants there: {names}" in result.stderr


def test_a_stack_that_does_not_publish_the_gateway_needs_a_base_url() -> None:
    result = ide_config("dev", "-C", str(REPO_ROOT), "--tenant", "search", "--client", "continue")
    assert result.exit_code == 2
    assert "stack dev does not publish the tenant gateway under a DNS name" in result.stderr
    assert "pass --base-url" in result.stderr


@pytest.mark.parametrize("url", ["llm.example.com/v1", "ftp://llm.example.com/v1", "https:///v1",
                                 "https://llm.example.com/v1?key=x"])
def test_a_base_url_that_is_not_an_http_url_exits_2(url: str) -> None:
    result = ide_config("dev", "-C", str(REPO_ROOT), "--tenant", "search", "--client", "opencode", "--base-url", url)
    assert result.exit_code == 2
    assert f"--base-url {url!r}: must be an http(s) URL with a host" in result.stderr


def test_an_unknown_client_or_stack_exits_2() -> None:
    bad_client = ide_config("dev", "-C", str(REPO_ROOT), "--tenant", "search", "--client", "vim")
    assert bad_client.exit_code == 2 and "--client 'vim': must be one of continue, opencode" in bad_client.stderr
    bad_stack = ide_config("nowhere", "-C", str(REPO_ROOT), "--tenant", "search", "--client", "continue")
    assert bad_stack.exit_code == 2 and "no stack config Pulumi.nowhere.yaml" in bad_stack.stderr


def test_a_bad_stack_file_exits_2_with_the_config_error(tmp_path: Path) -> None:
    project = project_with(tmp_path, "dev", lambda c: c["tenants"][0].update(budget_usd=-1))
    result = ide_config("dev", "-C", str(project), "--tenant", "search", "--client", "continue",
                        "--base-url", BASE_URL)
    assert result.exit_code == 2 and "tenants[0].budget_usd" in result.stderr


def test_opencode_is_told_when_the_model_has_no_room_for_its_own_prompt() -> None:
    dev = ide_config("dev", "-C", str(REPO_ROOT), "--tenant", "search", "--client", "opencode", "--base-url", BASE_URL)
    assert dev.exit_code == 0
    assert ("qwen2.5-coder-1.5b-instruct has a context of 8192 tokens; opencode's own prompt and tools take about "
            "8000 and an answer up to 2048, more than the context") in dev.stderr
    prod = ide_config("prod", "-C", str(REPO_ROOT), "--tenant", "search", "--client", "opencode", "--base-url", BASE_URL)
    assert "leaving about 4288 for the conversation" in prod.stderr
