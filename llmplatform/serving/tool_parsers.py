"""The tool-call parsers the pinned vLLM release registers, read from its recorded source.

`vllm_tool_parsers.json` beside this module is generated from vLLM 0.14.0's own source by
`python -m llmp.verify.vllm_tool_parsers` (tooling; a test regenerates and compares it when the source
is at hand). The stack config validates `models[].tool_call_parser` against it: `vllm serve` refuses
at start-up a parser it does not register, which would otherwise surface as a crash-looping pod.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

RECORD = Path(__file__).with_name("vllm_tool_parsers.json")


@cache
def known_parsers() -> tuple[str, ...]:
    """Every `--tool-call-parser` value the pinned vLLM release accepts, sorted."""
    return tuple(json.loads(RECORD.read_text())["parsers"])


def release() -> str:
    """`vLLM <version>`, the release the record was read from."""
    return f"vLLM {json.loads(RECORD.read_text())['source']['version']}"
