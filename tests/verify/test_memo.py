"""The verify cache (llmp/verify/memo.py) reuses a result only for byte-identical inputs, and is off by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmp.verify import memo


def counting():
    calls: list[tuple] = []

    def fn(*args, **kwargs):
        calls.append((args, kwargs))
        return {"args": args, "kwargs": kwargs, "n": len(calls)}

    return fn, calls


def test_off_without_the_variable_every_call_computes(monkeypatch) -> None:
    monkeypatch.delenv(memo.ENV, raising=False)
    fn, calls = counting()
    memo.call("t", fn, {"a": 1})
    memo.call("t", fn, {"a": 1})
    assert len(calls) == 2


def test_identical_inputs_are_computed_once_and_any_change_is_a_new_key(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(memo.ENV, str(tmp_path))
    fn, calls = counting()
    first = memo.call("t", fn, [{"kind": "NetworkPolicy", "spec": {"x": 1}}], sample=150)
    again = memo.call("t", fn, [{"kind": "NetworkPolicy", "spec": {"x": 1}}], sample=150)
    assert first == again and len(calls) == 1
    memo.call("t", fn, [{"kind": "NetworkPolicy", "spec": {"x": 2}}], sample=150)  # one nested value changed
    memo.call("t", fn, [{"kind": "NetworkPolicy", "spec": {"x": 1}}], sample=151)  # one keyword changed
    memo.call("other", fn, [{"kind": "NetworkPolicy", "spec": {"x": 1}}], sample=150)  # another step
    assert len(calls) == 4


def test_a_folder_key_changes_with_one_byte_or_one_name(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: Pod\n")
    before = memo.folder_digest(tmp_path)
    (tmp_path / "a.yaml").write_text("kind: Pod \n")
    changed = memo.folder_digest(tmp_path)
    (tmp_path / "a.yaml").rename(tmp_path / "b.yaml")
    renamed = memo.folder_digest(tmp_path)
    assert len({before, changed, renamed}) == 3


def test_a_value_keep_refuses_is_returned_but_not_stored(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(memo.ENV, str(tmp_path))
    results = iter([(2, "crash"), (0, "ok"), (0, "not reached")])
    key = memo.key_of("tool", b"input")
    assert memo.cached(key, lambda: next(results), keep=lambda r: r[0] == 0) == (2, "crash")
    assert memo.cached(key, lambda: next(results), keep=lambda r: r[0] == 0) == (0, "ok")
    assert memo.cached(key, lambda: next(results), keep=lambda r: r[0] == 0) == (0, "ok")


@pytest.mark.parametrize("value", [lambda: None, (x for x in ())])
def test_arguments_that_do_not_pickle_are_never_cached(monkeypatch, tmp_path: Path, value) -> None:
    monkeypatch.setenv(memo.ENV, str(tmp_path))
    fn, calls = counting()
    memo.call("t", fn, value)
    memo.call("t", fn, value)
    assert len(calls) == 2
