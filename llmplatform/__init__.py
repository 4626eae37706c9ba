"""llm-platform: shared library code for the Pulumi program, the offline plan, and the proofs.

The Pulumi program itself is `__main__.py` at the repository root; its components live in
`components/`, substrates in `substrates/`, and the CrossGuard pack in `policy/`.
"""

TYPE_PREFIX = "llmplatform"
