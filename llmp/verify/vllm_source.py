"""The command line shared by the records read from the pinned vLLM release (routes, flags).

    python -m llmp.verify.<record> --src <wheel or unpacked tree>          # print
    python -m llmp.verify.<record> --src <wheel or unpacked tree> --write  # rewrite the record
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def record_main(argv: list[str] | None, *, prog: str, description: str, record: Path,
                generate: Callable[[Path], dict[str, Any]], counted: str) -> int:
    """Generate the record from `--src` (default `$LLMP_VLLM_SRC`); print it, or write it to `record` with
    `--write` and say how many `counted` entries it holds. Exit 2 without a source."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--src", default=os.environ.get("LLMP_VLLM_SRC"),
                        help="the vLLM 0.14.0 wheel or an unpacked tree (default: $LLMP_VLLM_SRC)")
    parser.add_argument("--write", action="store_true", help=f"rewrite {record.name}")
    ns = parser.parse_args(argv)
    if not ns.src:
        print("no vLLM source: pass --src or set LLMP_VLLM_SRC", file=sys.stderr)
        return 2
    generated = generate(Path(ns.src))
    text = json.dumps(generated, indent=1) + "\n"
    if ns.write:
        record.write_text(text)
        print(f"wrote {record} ({len(generated[counted])} {counted})")
    else:
        sys.stdout.write(text)
    return 0
