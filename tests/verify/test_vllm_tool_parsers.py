"""The tool-parser allow-list is what the pinned vLLM release registers, and the plan renders the tools flags.

`llmplatform/serving/vllm_tool_parsers.json` is generated from vLLM 0.14.0's source
(`python -m llmp.verify.vllm_tool_parsers`); where that source is at hand (`LLMP_VLLM_SRC`: the release
wheel or an unpacked tree) it must equal a fresh generation, otherwise the checked-in file is the record
and that test skips saying so. The generator reads a registry it cannot trust as an error, not as data.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmp.plan.render import load_manifests
from llmp.verify import vllm_flags, vllm_tool_parsers
from llmplatform.serving import tool_parsers

VERSION = ("vllm/_version.py", "__version__ = version = '0.14.0'\n__commit_id__ = commit_id = 'b17039bcc'\n")
REGISTRY = '''
_TOOL_PARSERS_TO_REGISTER = {"hermes": ("hermes_tool_parser", "Hermes2ProToolParser")}
def register_lazy_tool_parsers():
    for name, (file_name, class_name) in _TOOL_PARSERS_TO_REGISTER.items():
        ToolParserManager.register_lazy_module(name, f"vllm.tool_parsers.{file_name}", class_name)
register_lazy_tool_parsers()
'''


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in [VERSION, *files.items()]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_the_record_is_what_the_pinned_source_generates():
    src = os.environ.get("LLMP_VLLM_SRC")
    if not src or not Path(src).exists():
        pytest.skip("LLMP_VLLM_SRC (the vLLM 0.14.0 wheel or tree) not set: vllm_tool_parsers.json is the record")
    assert vllm_tool_parsers.generate(Path(src)) == vllm_tool_parsers.load_record()


def test_the_record_names_the_pinned_release_and_the_parsers_qwen_and_mistral_models_use():
    record = vllm_tool_parsers.load_record()
    assert record["source"]["version"] == "0.14.0" and record["source"]["gitCommit"] == "b17039bcc"
    parsers = tool_parsers.known_parsers()
    assert {"hermes", "mistral", "llama3_json", "qwen3_coder", "pythonic"} <= set(parsers)
    assert "qwen2_5" not in parsers and len(parsers) >= 25


def test_the_generator_reads_lazy_and_decorated_registrations(tmp_path):
    src = _tree(tmp_path, {
        "vllm/tool_parsers/__init__.py": REGISTRY,
        "vllm/tool_parsers/hermes_tool_parser.py": "class Hermes2ProToolParser: ...\n",
        "vllm/tool_parsers/extra.py": '@ToolParserManager.register_module(["a", "b"])\nclass A: ...\n'
                                      'ToolParserManager.register_lazy_module("c", "m", "C")\n',
    })
    assert vllm_tool_parsers.generate(src)["parsers"] == ["a", "b", "c", "hermes"]


def test_the_generator_refuses_a_registered_parser_the_release_does_not_define(tmp_path):
    src = _tree(tmp_path, {"vllm/tool_parsers/__init__.py": REGISTRY,
                           "vllm/tool_parsers/hermes_tool_parser.py": "class SomethingElse: ...\n"})
    with pytest.raises(ValueError, match="'hermes' is registered as vllm/tool_parsers/hermes_tool_parser.py"):
        vllm_tool_parsers.generate(src)


def test_the_generator_refuses_a_registry_nothing_registers(tmp_path):
    src = _tree(tmp_path, {"vllm/tool_parsers/__init__.py": REGISTRY.replace("\nregister_lazy_tool_parsers()", ""),
                           "vllm/tool_parsers/hermes_tool_parser.py": "class Hermes2ProToolParser: ...\n"})
    with pytest.raises(ValueError, match="no function called at import registers"):
        vllm_tool_parsers.generate(src)


def _serve_args(objects: list[dict], model: str) -> list[str]:
    (dep,) = [o for o in objects if o.get("kind") == "Deployment" and o["metadata"]["name"] == f"vllm-{model}"]
    (container,) = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == "vllm"]
    return container["args"]


def test_the_plan_turns_auto_tool_choice_on_only_for_tools_models_with_their_parser(planned):
    objects = load_manifests(planned("prod") / "manifests")
    coder = _serve_args(objects, "qwen-coder-7b")
    assert coder[coder.index("--enable-auto-tool-choice") + 1:][:2] == ["--tool-call-parser", "hermes"]
    for model in ("qwen-7b", "mistral-7b", "qwen-1-5b", "qwen-coder-7b-base"):
        args = _serve_args(objects, model)
        assert "--enable-auto-tool-choice" not in args and "--tool-call-parser" not in args, model
    assert vllm_flags.check(objects).problems == []
