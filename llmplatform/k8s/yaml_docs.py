"""Read Kubernetes YAML the way the API server receives it, one document at a time.

Timestamps stay strings (PyYAML's YAML 1.1 would make `2024-01-01` a date; Kubernetes receives a string),
and a key repeated inside one mapping is recorded rather than hidden: PyYAML keeps the last value,
kubectl refuses the document, and Helm-rendered output with a repeated key (a values map that writes a
key the template already wrote) is how a selector and its pod labels silently disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml halves the load time when present


class ManifestLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """SafeLoader without YAML 1.1 timestamps, recording duplicate mapping keys instead of hiding them."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[int, str]] = []
        """(1-based line, key) of every key met a second time in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    self.duplicate_keys.append((key_node.start_mark.line + 1, str(key)))
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: construct_mapping below reports it
        return super().construct_mapping(node, deep=deep)


def _construct_value(loader: yaml.BaseLoader, node: yaml.Node) -> str:
    # A bare `=` scalar resolves to the YAML 1.1 "value" tag, which SafeLoader cannot construct.
    return str(loader.construct_scalar(node))


ManifestLoader.add_constructor("tag:yaml.org,2002:value", _construct_value)


@dataclass
class Document:
    index: int
    """0-based position in the stream (empty documents count)."""
    line: int
    """1-based line where the document's content starts."""
    data: Any
    duplicate_keys: list[tuple[int, str]] = field(default_factory=list)


def documents(text: str) -> Iterator[Document]:
    """Every document in `text`, with its repeated keys. Raises yaml.YAMLError on unreadable YAML."""
    loader = ManifestLoader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            before = len(loader.duplicate_keys)
            data = loader.construct_document(node) if node is not None else None
            line = node.start_mark.line + 1 if node is not None else 0
            yield Document(index, line, data, list(loader.duplicate_keys[before:]))
            index += 1
    finally:
        loader.dispose()
