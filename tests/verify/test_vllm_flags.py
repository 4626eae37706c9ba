"""Every vLLM flag the program renders exists in the pinned vLLM release's argument definitions (issue 17).

The record (`llmp/verify/vllm_flags.json`) is generated from vLLM 0.14.0's source
(`python -m llmp.verify.vllm_flags`); where that source is at hand (`LLMP_VLLM_SRC`: the release wheel or
an unpacked tree) the file must equal a fresh generation, otherwise the checked-in file is the record and
that test skips saying so. The check reads the manifests `llmp plan` rendered (the `planned` fixture).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from llmp.plan.render import load_manifests
from llmp.verify import run, vllm_flags

RECORD = vllm_flags.load()


def test_the_record_is_what_the_pinned_source_generates():
    src = os.environ.get("LLMP_VLLM_SRC")
    if not src or not Path(src).exists():
        pytest.skip("LLMP_VLLM_SRC (the vLLM 0.14.0 wheel or tree) not set: vllm_flags.json is the record")
    assert vllm_flags.generate(Path(src)) == RECORD


def test_the_record_names_the_pinned_release_and_real_flags_of_each_kind():
    assert RECORD["source"]["version"] == "0.14.0" and RECORD["source"]["gitCommit"] == "b17039bcc"
    flags = set(RECORD["flags"])
    assert len(flags) > 200
    # engine (config dataclass), its BooleanOptionalAction twin, frontend (FrontendArgs loop), serve's own
    for flag in ["--max-num-seqs", "--tensor-parallel-size", "-tp", "--enable-prefix-caching",
                 "--no-enable-prefix-caching", "--api-key", "--enable-auto-tool-choice",
                 "--no-enable-auto-tool-choice", "--disable-uvicorn-access-log", "--headless", "--api-server-count"]:
        assert flag in flags, flag
    # a non-boolean option has no --no- twin
    assert "--no-max-num-seqs" not in flags and "--no-api-key" not in flags


@pytest.mark.parametrize("stack", ["dev", "prod", "vast"])
def test_every_rendered_vllm_flag_is_a_flag_of_the_pinned_release(planned, stack):
    result = vllm_flags.check(load_manifests(planned(stack) / "manifests"))
    assert result.problems == []
    assert result.containers >= 1 and result.flags >= 8 * result.containers


def _vllm_containers(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for o in objects if o.get("kind") == "Deployment"
            for c in o["spec"]["template"]["spec"]["containers"] if c.get("command") == ["vllm", "serve"]]


def test_a_planted_unknown_flag_is_named_with_its_container_and_the_nearest_real_flag(planned):
    objects = copy.deepcopy(load_manifests(planned("prod") / "manifests"))
    container = _vllm_containers(objects)[0]
    container["args"].append("--enable-auto-tool-choise")
    problems = vllm_flags.check(objects).problems
    assert len(problems) == 1, problems
    assert problems[0].startswith("vllm flag: Deployment ")
    assert f"container {container['name']}: --enable-auto-tool-choise is not a vLLM 0.14.0 flag" in problems[0]
    assert problems[0].endswith("(nearest: --enable-auto-tool-choice)")


def test_underscores_values_and_json_keys_are_read_as_vllm_reads_them(planned):
    objects = copy.deepcopy(load_manifests(planned("prod") / "manifests"))
    _vllm_containers(objects)[0]["args"] += ["--max_num_batched_tokens=4096", "--compilation-config.mode", "3"]
    assert vllm_flags.check(objects).problems == []


def test_the_validity_proof_fails_on_a_planted_unknown_flag(planned, tmp_path, monkeypatch):
    real = vllm_flags.check

    def planted(objects, record=None):
        objects = copy.deepcopy(list(objects))
        _vllm_containers(objects)[0]["args"].append("--enable-auto-tool-choise")
        return real(objects, record)

    monkeypatch.setattr(vllm_flags, "check", planted)
    proof = run.prove_validity(planned("prod"), checkov=False)
    assert proof.status == run.FAIL
    assert [p for p in proof.problems if p.startswith("vllm flag: ")] and proof.data["vllmFlags"]["unknown"] == 1
