"""The Pulumi components of llm-platform, one module and one type token (`llmplatform:<module>:<Name>`) each.

A regular package (not a namespace one) so that the import contracts in pyproject.toml see its modules.
"""
