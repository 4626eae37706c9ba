"""llmp/plan/gcpause.py: full collections are paused inside the block and restored after, even on error.

Here rather than under tests/plan/ because the benchmark found the cause (bench/plan_scaling.py)."""

from __future__ import annotations

import gc

import pytest

from llmp.plan.gcpause import PAUSED_THRESHOLD, full_collections_paused


@pytest.fixture(autouse=True)
def _restore_thresholds():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_inside_the_block_only_the_oldest_generation_threshold_changes() -> None:
    gc.set_threshold(500, 7, 9)
    with full_collections_paused():
        assert gc.get_threshold() == (500, 7, PAUSED_THRESHOLD)
    assert gc.get_threshold() == (500, 7, 9)


def test_thresholds_come_back_after_an_error() -> None:
    gc.set_threshold(600, 11, 13)
    with pytest.raises(RuntimeError, match="boom"), full_collections_paused():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (600, 11, 13)


def test_young_collections_still_reclaim_cycles_inside_the_block() -> None:
    class Node:
        pass

    collected = []
    gc.callbacks.append(lambda phase, info: collected.append(info["generation"]) if phase == "stop" else None)
    try:
        with full_collections_paused():
            for _ in range(20_000):
                a, b = Node(), Node()
                a.other, b.other = b, a  # a cycle only the cyclic collector can free
    finally:
        gc.callbacks.pop()
    assert 0 in collected and 2 not in collected
