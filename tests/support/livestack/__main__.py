"""`python -m tests.support.livestack [prepare|check]`.

prepare: install the LiteLLM venv, the npm Prisma packages and the generated Prisma client
         (idempotent; what `make live-deps` runs). check: list missing system prerequisites.
"""

from __future__ import annotations

import sys
import time

from . import missing_prerequisites


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "prepare"
    missing = missing_prerequisites()
    for reason in missing:
        print(f"missing: {reason}", file=sys.stderr)
    if command == "check":
        return 1 if missing else 0
    if command != "prepare":
        print(__doc__, file=sys.stderr)
        return 2
    from .prisma_wasm import uses_wasm_engine
    from .proxy import prepare

    started = time.monotonic()
    env = prepare(quiet=False)
    engine = "WASM (prisma_wasm/query-engine)" if uses_wasm_engine() else "native"
    print(f"live stack ready: {env.root}, Prisma query engine {engine} ({time.monotonic() - started:.1f}s)")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
