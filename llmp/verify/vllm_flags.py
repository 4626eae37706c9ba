"""Every `vllm serve` flag the pinned vLLM release defines, and the check that the plan uses only those.

Read from the pinned release's own source, never restated: the wheel `llmp.verify.vllm_routes`
names (vLLM 0.14.0, `vllm-0.14.0-cp38-abi3-manylinux_2_31_x86_64.whl`, its sha256 and git commit). The
generator parses, with `ast`, the `add_argument` calls of

- `vllm/entrypoints/openai/cli_args.py` (`make_arg_parser`, which `vllm serve` uses: `--headless`,
  `--api-server-count`, `--config`, and `FrontendArgs.add_cli_args`, which adds `--<field-with-dashes>`
  for every field of the `FrontendArgs` dataclass);
- `vllm/engine/arg_utils.py` (`EngineArgs`/`AsyncEngineArgs.add_cli_args`: literal option strings whose
  keyword arguments are `**get_kwargs(<Config>)["<field>"]`);
- `vllm/entrypoints/cli/serve.py` (the `serve` subcommand itself).

A flag gets its `--no-<flag>` twin as `argparse.BooleanOptionalAction` gives it: when the call says
`action=argparse.BooleanOptionalAction`, or when its kwargs come from `get_kwargs(<Config>)` for a field
whose annotation contains `bool` (vLLM's `_compute_kwargs`) and the caller does not set another action.
The config dataclasses' fields are read from `vllm/config/*.py`. `FlexibleArgumentParser` accepts `_` for
`-` and `--<flag>.<key>` for a JSON field's key: the check normalises both before looking a flag up.

    python -m llmp.verify.vllm_flags --src <wheel or unpacked tree>          # print
    python -m llmp.verify.vllm_flags --src <wheel or unpacked tree> --write  # rewrite the record

`--src` defaults to `$LLMP_VLLM_SRC`. Without the source, `vllm_flags.json` is the record (the test that
regenerates it then skips and says so).
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmp.verify.vllm_routes import GIT_COMMIT, VERSION, WHEEL, WHEEL_SHA256
from llmp.verify.vllm_source import record_main

RECORD = Path(__file__).with_name("vllm_flags.json")
PARSER_FILES = ("vllm/engine/arg_utils.py", "vllm/entrypoints/openai/cli_args.py", "vllm/entrypoints/cli/serve.py")
_CONFIG_FILES = re.compile(r"^vllm/config/[a-z_]+\.py$")


def _read_source(src: Path) -> dict[str, str]:
    """path inside the package -> text, for the parser and config files (from a wheel or a tree)."""
    wanted = lambda p: p == "vllm/_version.py" or p in PARSER_FILES or bool(_CONFIG_FILES.match(p))  # noqa: E731
    if src.is_file():
        with zipfile.ZipFile(src) as wheel:
            return {n: wheel.read(n).decode() for n in wheel.namelist() if wanted(n)}
    return {str(p.relative_to(src)): p.read_text() for p in src.rglob("*.py") if wanted(str(p.relative_to(src)))}


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def _classes(trees: Iterable[ast.Module]) -> dict[str, tuple[list[str], dict[str, ast.expr]]]:
    """class name -> (base names, field -> annotation) for every class body's annotated names."""
    out: dict[str, tuple[list[str], dict[str, ast.expr]]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                fields = {s.target.id: s.annotation for s in node.body
                          if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                          and not {"ClassVar", "InitVar"} & _names(s.annotation)}
                out.setdefault(node.name, ([ast.unparse(b) for b in node.bases], fields))
    return out


def _fields(classes: Mapping[str, tuple[list[str], dict[str, ast.expr]]], name: str) -> dict[str, ast.expr]:
    bases, own = classes[name]
    merged: dict[str, ast.expr] = {}
    for base in bases:
        if base in classes:
            merged.update(_fields(classes, base))
    return {**merged, **own}


def _flags_of_file(tree: ast.Module, classes: Mapping[str, tuple[list[str], dict[str, ast.expr]]]) -> set[str]:
    kwargs_of: dict[str, str] = {}  # variable -> config class, from `var = get_kwargs(Cls)`
    action_set: set[tuple[str, str]] = set()  # (var, field) whose "action" the caller replaces
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and ast.unparse(node.value.func) == "get_kwargs" and isinstance(node.targets[0], ast.Name)):
            kwargs_of[node.targets[0].id] = ast.unparse(node.value.args[0])
        if isinstance(node, ast.Assign):
            for t in node.targets:
                text = ast.unparse(t)
                m = re.fullmatch(r"(\w+)\['(\w+)'\]\['action'\]", text)
                if m:
                    action_set.add((m[1], m[2]))

    def is_bool(var: str, name: str) -> bool:
        annotation = _fields(classes, kwargs_of[var]).get(name)
        return annotation is not None and "bool" in _names(annotation) and (var, name) not in action_set

    flags: set[str] = set()

    def add(options: list[str], boolean: bool) -> None:
        flags.update(options)
        if boolean:
            flags.update("--no-" + o[2:] for o in options if o.startswith("--"))

    loops = {id(call): loop for loop in ast.walk(tree) if isinstance(loop, ast.For)
             for call in ast.walk(loop) if isinstance(call, ast.Call)}
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"):
            continue
        options = [a.value for a in call.args if isinstance(a, ast.Constant) and str(a.value).startswith("-")]
        action = next((ast.unparse(k.value) for k in call.keywords if k.arg == "action"), "")
        boolean = action.endswith("BooleanOptionalAction")
        spread = next((k.value for k in call.keywords if k.arg is None), None)
        if isinstance(spread, ast.Dict):  # **{**cache_kwargs["x"], "default": None}
            if any(isinstance(k, ast.Constant) and k.value == "action" for k in spread.keys):
                spread = None
            else:
                spread = next((v for k, v in zip(spread.keys, spread.values) if k is None), None)
        if (isinstance(spread, ast.Subscript) and isinstance(spread.value, ast.Name) and spread.value.id in kwargs_of
                and isinstance(spread.slice, ast.Constant)):
            boolean = boolean or is_bool(spread.value.id, spread.slice.value)
        elif options and spread is not None:
            raise ValueError(f"add_argument kwargs the generator cannot read: {ast.unparse(call)[:120]}")
        if options:
            add(options, boolean)
            continue
        loop = loops.get(id(call))
        if (call.args and isinstance(call.args[0], ast.JoinedStr) and loop is not None
                and isinstance(loop.iter, ast.Call) and isinstance(loop.iter.func, ast.Attribute)
                and loop.iter.func.attr == "items" and ast.unparse(loop.iter.func.value) in kwargs_of):
            var = ast.unparse(loop.iter.func.value)
            for name in _fields(classes, kwargs_of[var]):
                add(["--" + name.replace("_", "-")], is_bool(var, name))
        elif call.args and not isinstance(call.args[0], ast.Constant):
            raise ValueError(f"add_argument the generator cannot read: {ast.unparse(call)[:120]}")
    return flags


def generate(src: Path) -> dict[str, Any]:
    """The flag record from a vLLM wheel or unpacked tree (must be the pinned version)."""
    files = _read_source(src)
    version = files.get("vllm/_version.py", "")
    if f"'{VERSION}'" not in version or GIT_COMMIT not in version:
        raise ValueError(f"{src} is not vLLM {VERSION} (commit {GIT_COMMIT}): vllm/_version.py says {version!r}")
    missing = [p for p in PARSER_FILES if p not in files]
    if missing:
        raise ValueError(f"{src} lacks {missing}")
    trees = {p: ast.parse(t, filename=p) for p, t in files.items() if p.endswith(".py")}
    classes = _classes(trees.values())
    flags: set[str] = set()
    for path in PARSER_FILES:
        flags |= _flags_of_file(trees[path], classes)
    return {
        "source": {"package": "vllm", "version": VERSION, "gitCommit": GIT_COMMIT, "wheel": WHEEL,
                   "wheelSha256": WHEEL_SHA256, "parsers": list(PARSER_FILES), "configs": "vllm/config/*.py"},
        "flags": sorted(flags),
    }


def load() -> dict[str, Any]:
    return json.loads(RECORD.read_text())


# ---------------------------------------------------------------- the check over the rendered plan


def _normalise(word: str) -> str:
    """`--max_num_seqs=8` -> `--max-num-seqs`; `--compilation-config.mode` -> `--compilation-config`."""
    return word.split("=", 1)[0].split(".", 1)[0].replace("_", "-")


@dataclass(frozen=True, kw_only=True)
class FlagCheck:
    containers: int
    """`vllm serve` containers read."""
    flags: int
    """`--flag` words read in them."""
    problems: list[str]
    """`vllm flag: <object> container <name>: <flag> is not a vLLM <version> flag (nearest: <flag>)`."""


def check(objects: Iterable[Mapping[str, Any]], record: Mapping[str, Any] | None = None) -> FlagCheck:
    """Every `--flag` of every rendered `vllm serve` container (command and args), looked up in the record."""
    from llmp.verify.routes import _is_vllm, _pod_spec

    record = record or load()
    known = set(record["flags"])
    long_flags = sorted(f for f in known if f.startswith("--"))
    problems: list[str] = []
    containers = flags = 0
    for obj in objects:
        spec = _pod_spec(obj)
        if spec is None:
            continue
        meta = obj.get("metadata") or {}
        where = f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}"
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            if not _is_vllm(container):
                continue
            containers += 1
            words = [str(w) for w in [*(container.get("command") or []), *(container.get("args") or [])]]
            for word in (w for w in words if w.startswith("--") and w != "--"):
                flags += 1
                if _normalise(word) in known:
                    continue
                near = difflib.get_close_matches(_normalise(word), long_flags, n=1)
                hint = f" (nearest: {near[0]})" if near else ""
                problems.append(f"vllm flag: {where} container {container.get('name')}: {_normalise(word)} is not "
                                f"a vLLM {record['source']['version']} flag{hint}")
    return FlagCheck(containers=containers, flags=flags, problems=problems)


def main(argv: list[str] | None = None) -> int:
    return record_main(argv, prog="python -m llmp.verify.vllm_flags", description=__doc__.split("\n")[0], record=RECORD,
                       generate=generate, counted="flags")


if __name__ == "__main__":
    raise SystemExit(main())
