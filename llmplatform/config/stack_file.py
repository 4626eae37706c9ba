"""A stack file on disk (`Pulumi.<stack>.yaml`) read into the typed config, for tools that run outside
the Pulumi engine (cost estimate, validation kit, live-test support).

The program itself reads config through `pulumi.Config` (`pulumi_source.py`); this reads the same
file the same way, minus secrets: encrypted (`secure:`) values and the known secret keys are skipped,
as no caller of this module needs them. `read_stack_config` is the one YAML reader of stack files:
the offline plan (`plan/runner.py`) uses it too, so every tool reports an unreadable file alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from llmplatform.config.errors import StackFileError
from llmplatform.config.model import PlatformConfig, load_platform_config
from llmplatform.config.pulumi_source import SECRET_KEYS


class _StackLoader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text: Pulumi hands `2026-11-01` to the program as a string."""


_StackLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def stack_path(project_dir: Path, stack: str) -> Path:
    """`<project_dir>/Pulumi.<stack>.yaml`; ValueError naming the stacks present when it is missing."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise ValueError(f"no stack config {path.name} in {project_dir}; stacks here: {', '.join(stacks_in(project_dir)) or 'none'}")
    return path


def stacks_in(project_dir: Path) -> list[str]:
    """The stack names that have a `Pulumi.<stack>.yaml` in `project_dir`, sorted."""
    return sorted(p.name.split(".")[1] for p in project_dir.glob("Pulumi.*.yaml"))


def read_stack_config(path: Path) -> dict[str, Any]:
    """The `config:` mapping of a stack file (`<namespace>:<key>` -> value), as Pulumi would read it.

    Raises StackFileError (a ConfigError: exit 2) naming the line and column when the file is not
    UTF-8, not YAML, holds a duplicate key (the Pulumi CLI refuses those too), or is not shaped like a
    stack file. Values are not validated here; `load_platform_config` does that.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise StackFileError(path, line, column, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
    loader = _StackLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _refuse_duplicate_keys(path, node)
        doc = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(path, exc) from None
    except yaml.YAMLError as exc:  # the reader's errors (a control character) carry a position, not a mark
        position = getattr(exc, "position", 0)
        line = text.count("\n", 0, position) + 1
        raise StackFileError(path, line, position - (text.rfind("\n", 0, position) + 1) + 1,
                             f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise StackFileError(path, node.start_mark.line + 1, node.start_mark.column + 1,
                             f"a stack file is a mapping with a `config:` key; found {_kind(doc)}")
    config = doc.get("config")
    config_node = next((v for k, v in node.value if k.value == "config"), None)
    if config is None:
        return {}
    if not isinstance(config, dict):
        mark = config_node.start_mark
        raise StackFileError(path, mark.line + 1, mark.column + 1,
                             f"`config:` must be a mapping of `<namespace>:<key>: value`; found {_kind(config)}")
    for key_node, _ in config_node.value:
        key = key_node.value
        if key_node.tag != "tag:yaml.org,2002:str" or not key.strip(":").count(":"):
            mark = key_node.start_mark
            raise StackFileError(path, mark.line + 1, mark.column + 1,
                                 f"config key {key!r} is not of the form `<namespace>:<key>` "
                                 "(e.g. `llm-platform:profile`)")
    return config


def _yaml_error(path: Path, exc: yaml.MarkedYAMLError) -> StackFileError:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "unreadable"
    if exc.context and exc.problem:
        where = exc.context_mark
        what += f" ({exc.context}" + (f" at line {where.line + 1}, column {where.column + 1}" if where else "") + ")"
    if "'\\t'" in what:
        what += "; YAML indents with spaces, never tabs"
    return StackFileError(path, mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, f"not valid YAML: {what}")


def _refuse_duplicate_keys(path: Path, node: yaml.Node, seen_nodes: set[int] | None = None) -> None:
    # PyYAML keeps the last of two equal keys without a word; a second `budget_usd:` would silently win.
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:  # an alias: already checked (and an anchor may contain itself)
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], yaml.Node] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                first = seen.setdefault((key.tag, key.value), key)
                if first is not key:
                    mark = key.start_mark
                    raise StackFileError(path, mark.line + 1, mark.column + 1,
                                         f"duplicate key {key.value!r} (first at line {first.start_mark.line + 1})")
            _refuse_duplicate_keys(path, value, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(path, item, seen_nodes)


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else f"the {type(value).__name__} {value!r}"[:80]


def plain_stack_values(project_dir: Path, stack: str) -> dict[str, Any]:
    """The stack's non-secret config values of this project, keys without the `<project>:` prefix."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]
    raw: dict[str, Any] = {}
    for full_key, value in read_stack_config(stack_path(project_dir, stack)).items():
        namespace, _, key = str(full_key).partition(":")
        if namespace == project and key not in SECRET_KEYS and not (isinstance(value, dict) and "secure" in value):
            raw[key] = value
    return raw


def load_stack_file(project_dir: Path, stack: str, **overrides: Any) -> PlatformConfig:
    """`Pulumi.<stack>.yaml` validated as the program validates it, with whole top-level keys replaced
    by `overrides` (validated too). Raises ConfigError naming every bad key path (StackFileError, with
    line and column, when the file itself is unreadable)."""
    raw = {**plain_stack_values(project_dir, stack), **overrides}
    return load_platform_config(raw, source=f"Pulumi.{stack}.yaml")
