"""`llmp`: the tools around the llm-platform Pulumi program, one subpackage per command a user runs.

- `cli`: the `llmp` console script.
- `plan`: `llmp plan`, the offline plan under mocks; `plan.crossguard` runs the `policy/` pack on it
  (the plan's `policy.json`).
- `verify`: `llmp verify`, the proofs (SR1-SR3, install) and `verify.manifests`, the manifest
  validity checks (CRD and core schemas, checkov).
- `charts`: `llmp charts`, the pinned Helm chart sources the plan renders.
- `cost`: the cost estimate `llmp plan` writes (`cost.json`) and its price tables.
- `multigpu`: `llmp validate-multigpu`, the live multi-GPU kit run against a real cluster.

The tools import the product (`llmplatform`, `components`, `substrates`), never the reverse; their
dependencies are the `tools` extra (`pip install -e '.[tools]'`).
"""
