"""An unreadable or invalid stack file ends in one clear message and exit 2, never a traceback or exit 0.

Broken files are generated from Pulumi.dev.yaml by corruptions that make it wrong for certain: YAML
syntax damage that PyYAML itself refuses (checked per example), or valid YAML that the schema must
refuse (a misspelt key that is no known key, a junk enum or number, a negative count, a required key
deleted). `llmp plan` runs in-process (typer's CliRunner) for the many examples; one test runs the
real console script. The other reader of stack files (`config/stack_file.py`, used by cost and the
validation kit) must refuse the same files with the same message.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

from llmp.cli import app
from llmplatform.config import (
    ConfigError,
    GkeSubstrate,
    GpuPoolSpec,
    ModelSpec,
    PlatformConfig,
    TenantGatewaySpec,
    TenantSpec,
)
from llmplatform.config.errors import StackFileError
from llmplatform.config.stack_file import load_stack_file

ROOT = Path(__file__).resolve().parents[2]
DEV = (ROOT / "Pulumi.dev.yaml").read_text()
LINES = DEV.splitlines()
LLMP = Path(sys.executable).parent / "llmp"


def _fields(model: type[BaseModel], seen: set | None = None) -> dict[str, bool]:
    """Every key name the schema knows -> whether it is required wherever it appears."""
    out: dict[str, bool] = {}
    for name, info in model.model_fields.items():
        out[name] = out.get(name, True) and info.is_required()
        args = getattr(info.annotation, "__args__", ()) or (info.annotation,)
        for arg in (a for outer in args for a in (getattr(outer, "__args__", ()) or (outer,))):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg is not model:
                for k, req in _fields(arg).items():
                    out[k] = out.get(k, True) and req
    return out


KNOWN_KEYS = _fields(PlatformConfig)
REQUIRED_LEAVES = {k for k, required in KNOWN_KEYS.items() if required} - {
    # Keys whose line opens a block: deleting only that line leaves the block's children orphaned, a
    # different corruption. Every leaf in them is still a candidate.
    "profile", "trust_tier", "substrate", "gpu_pool", "models", "tenants"}
NUMERIC_KEYS = {name for model in (GkeSubstrate, GpuPoolSpec, ModelSpec, TenantSpec, TenantGatewaySpec)
                for name, info in model.model_fields.items() if info.annotation in (int, float)}
ENUM_KEYS = {"kind", "release_channel", "location", "accelerator", "sharing"}
# `key: value` lines of Pulumi.dev.yaml, with the indentation, key and value.
_LEAF = re.compile(r"^(?P<indent>\s*(?:- )?)(?P<key>[a-z_:-]+): (?P<value>[^#\s][^#]*?)\s*$")
LEAVES = [(i, m) for i, line in enumerate(LINES) if (m := _LEAF.match(line))]
INDENTED = [i for i, line in enumerate(LINES) if line.startswith("  ") and line.strip()]


def _with(i: int, line: str | None) -> str:
    lines = list(LINES)
    if line is None:
        del lines[i]
    else:
        lines[i] = line
    return "\n".join(lines) + "\n"


@st.composite
def syntax_damage(draw) -> str:
    """Damage PyYAML refuses: unclosed quotes and flows, tabs, a mapping line without its colon,
    wrong indentation, a character that cannot start a token, a second document."""
    kind = draw(st.sampled_from(["quote", "tab", "colon", "indent", "flow", "indicator", "document"]))
    if kind == "indent":
        i = draw(st.sampled_from(INDENTED))
        shift = draw(st.sampled_from([-1, 1, 3]))
        line = LINES[i]
        text = _with(i, " " * max(0, len(line) - len(line.lstrip()) + shift) + line.lstrip())
    elif kind == "tab":
        i = draw(st.sampled_from(INDENTED))
        text = _with(i, "\t" + LINES[i].lstrip() if draw(st.booleans()) else "\t" + LINES[i])
    elif kind == "document":
        i = draw(st.integers(1, len(LINES) - 1))
        text = "\n".join(LINES[:i] + ["---"] + LINES[i:]) + "\n"
    else:
        i, m = draw(st.sampled_from(LEAVES))
        if kind == "colon":
            text = _with(i, f"{m['indent']}{m['key']} {m['value']}")
        else:
            opener = draw(st.sampled_from({"quote": ["\"", "'"], "flow": ["[", "{"], "indicator": ["@", "`", "%"]}[kind]))
            text = _with(i, f"{m['indent']}{m['key']}: {opener}{m['value']}")
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    assume(False)  # this damage happened to stay valid YAML; not a broken file
    raise AssertionError("unreachable")


def _misspelt(key: str, draw) -> str:
    pos = draw(st.integers(0, len(key) - 1))
    edit = draw(st.sampled_from(["drop", "swap", "insert", "replace"]))
    letter = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_"))
    if edit == "drop":
        out = key[:pos] + key[pos + 1:]
    elif edit == "swap":
        out = key[:pos] + key[pos + 1:pos + 2] + key[pos:pos + 1] + key[pos + 2:]
    elif edit == "insert":
        out = key[:pos] + letter + key[pos:]
    else:
        out = key[:pos] + letter + key[pos + 1:]
    return out


@st.composite
def config_damage(draw) -> tuple[str, str]:
    """Valid YAML the schema must refuse, and the key path part the message must name."""
    kind = draw(st.sampled_from(["typo", "junk-number", "negative", "junk-enum", "missing"]))
    if kind == "typo":
        i, m = draw(st.sampled_from(LEAVES))
        namespace, colon, key = m["key"].rpartition(":")
        wrong = _misspelt(key, draw)
        # Another known key (rpm -> tpm) would be a duplicate or a valid file; an empty one is no key.
        assume(wrong and wrong not in KNOWN_KEYS and re.fullmatch(r"[a-z_]+", wrong))
        return _with(i, f"{m['indent']}{namespace}{colon}{wrong}: {m['value']}"), wrong
    if kind == "missing":
        i, m = draw(st.sampled_from([(i, m) for i, m in LEAVES if m["key"] in REQUIRED_LEAVES
                                     and not m["indent"].endswith("- ")]))
        return _with(i, None), m["key"]
    if kind == "junk-enum":
        i, m = draw(st.sampled_from([(i, m) for i, m in LEAVES if m["key"] in ENUM_KEYS]))
        return _with(i, f"{m['indent']}{m['key']}: {draw(st.text('qxzw', min_size=1, max_size=6))}"), m["key"]
    i, m = draw(st.sampled_from([(i, m) for i, m in LEAVES if m["key"] in NUMERIC_KEYS]))
    # Letters no YAML or pydantic reads as a number, bool or null ("inf", "nan", "no", "on" are not made of these).
    value = draw(st.text("qxzw", min_size=1, max_size=6)) if kind == "junk-number" else \
        f"-{draw(st.integers(1, 10**6))}"
    return _with(i, f"{m['indent']}{m['key']}: {value}"), m["key"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("broken-project")
    shutil.copy(ROOT / "Pulumi.yaml", path / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", path / "__main__.py")
    return path


def plan_in_process(project: Path, text: str):
    (project / "Pulumi.broken.yaml").write_text(text)
    return CliRunner().invoke(app, ["plan", "broken", "-C", str(project), "--out", str(project / "build")])


def assert_refused_cleanly(result) -> None:
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert isinstance(result.exception, SystemExit), f"unhandled {result.exception!r}"
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and "planned" not in result.stdout


def check_syntax_damage(project: Path, text: str) -> None:
    result = plan_in_process(project, text)
    assert_refused_cleanly(result)
    where = re.match(r"error: (?P<file>\S+):(?P<line>\d+):(?P<col>\d+): not valid YAML: \S", result.stderr)
    assert where and where["file"] == str(project / "Pulumi.broken.yaml"), result.stderr
    assert 1 <= int(where["line"]) <= text.count("\n") + 1
    assert len(result.stderr.strip().splitlines()) == 1, "one message"
    with pytest.raises(StackFileError) as other:
        load_stack_file(project, "broken")
    assert f"error: {other.value}" == result.stderr.strip(), "both readers give the same message"


def check_config_damage(project: Path, text: str, key: str) -> None:
    result = plan_in_process(project, text)
    assert_refused_cleanly(result)
    assert "problem(s):" in result.stderr and key in result.stderr, result.stderr
    with pytest.raises(ConfigError) as other:
        load_stack_file(project, "broken")
    paths = sorted(re.findall(r"^  - (\S+):", result.stderr, flags=re.M))
    assert paths and paths == sorted(re.findall(r"^  - (\S+):", str(other.value), flags=re.M))


def test_200_generated_broken_stack_files_each_end_in_one_message_and_exit_2(project):
    fed = {"syntax": 0, "config": 0}

    @settings(max_examples=240, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(damage=st.one_of(syntax_damage().map(lambda text: (text, None)), config_damage()))
    def feed(damage: tuple[str, str | None]) -> None:
        text, key = damage
        assert text != DEV
        if key is None:
            check_syntax_damage(project, text)
        else:
            check_config_damage(project, text, key)
        fed["syntax" if key is None else "config"] += 1

    feed()
    assert sum(fed.values()) >= 200 and min(fed.values()) >= 50, fed


@pytest.mark.parametrize(("name", "damage", "expected"), [
    ("unclosed quote", ("project: acme-llm-dev", 'project: "acme-llm-dev'), r":\d+:\d+: not valid YAML: "),
    ("tab indentation", ("\n      rpm: 30", "\n\trpm: 30"), r":\d+:1: not valid YAML: .*YAML indents with spaces"),
    ("mapping without colon", ("    max_nodes: 1", "    max_nodes 1"), r":28:5: not valid YAML: could not find "
                                                                       r"expected ':'"),
    ("duplicate key", ("      rpm: 30\n", "      rpm: 30\n      rpm: 300\n"), r":\d+:7: duplicate key 'rpm' "
                                                                             r"\(first at line \d+\)"),
    ("key without namespace", ("  llm-platform:profile: dev", "  profile: dev"), r":4:3: config key 'profile' is not "
                                                                               r"of the form `<namespace>:<key>`"),
    ("config is a list", (DEV, "config:\n  - a\n"), r":2:3: `config:` must be a mapping"),
    ("not UTF-8", ("acme-llm-dev", "acme-llm-d\udcffev"), r":\d+:\d+: not UTF-8 text \(byte 0xff\)"),
])
def test_the_real_console_script_prints_one_message_for_each_unreadable_file(tmp_path, name, damage, expected):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    text = DEV.replace(*damage, 1) if damage[0] != DEV else damage[1]
    assert text != DEV
    (tmp_path / "Pulumi.broken.yaml").write_bytes(text.encode("utf-8", "surrogateescape"))
    proc = subprocess.run([str(LLMP), "plan", "broken", "-C", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and proc.stdout == ""
    assert re.fullmatch(rf"error: {re.escape(str(tmp_path / 'Pulumi.broken.yaml'))}{expected}.*\n", proc.stderr,
                        flags=re.S), proc.stderr
    assert len(proc.stderr.splitlines()) == 1, "one line, not wrapped at 80 columns"


def test_dates_stay_text_as_pulumi_hands_them_over(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    text = DEV.replace("  llm-platform:tenant_gateway:\n", "  llm-platform:tenant_gateway:\n    key_rotation: 2026-11-01\n")
    (tmp_path / "Pulumi.dated.yaml").write_text(text)
    assert load_stack_file(tmp_path, "dated").tenant_gateway.key_rotation == "2026-11-01"
