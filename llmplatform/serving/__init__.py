"""The substrate-agnostic serving layer as pure builders: vLLM, Kueue, KEDA, the inference gateway.

`components/serving_stack.py` wraps these camelCase dicts in Pulumi resources; tests read the same
dicts. Nothing here imports Pulumi resources or reads config.
"""
