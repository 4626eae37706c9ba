"""llm-platform: the library the Pulumi program is built from (config, naming, labels, ports, the
serving, gateway and control builders, Kubernetes helpers, predicates shared with `policy/`).

The Pulumi program itself is `__main__.py` at the repository root; its components live in
`components/`, substrates in `substrates/`, and the CrossGuard pack in `policy/`. The tools that
plan, prove and measure the program (`llmp plan|verify|charts|cost|validate-multigpu`) are the
separate `llmp` package; nothing here imports them (import-linter contracts in pyproject.toml).
"""

TYPE_PREFIX = "llmplatform"
