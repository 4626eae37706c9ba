"""Pure validation predicates shared by the stack-config validator, the components and `policy/`.

Each predicate takes plain values (never Pulumi Outputs) and returns a list of human-readable
violations (empty when the rule holds), so the same rule reads the same everywhere it is applied.
"""
