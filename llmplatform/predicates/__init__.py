"""Pure validation predicates shared by the stack-config validator, the components and `policy/`.

Each predicate takes plain values (never Pulumi Outputs) and returns a list of violations (empty when
the rule holds), so the same rule reads the same everywhere it is applied. Rules on inputs (the stack
config, component args: `capacity`, `models`, `sr3`) return `llmplatform.problems.Problem`s with the key
path at fault, which each caller puts under its own inputs; rules on rendered manifests (`admission`,
`gpu`, `netpol`, `secrets`) return finding sentences for the CrossGuard pack and `llmp verify`.
"""
