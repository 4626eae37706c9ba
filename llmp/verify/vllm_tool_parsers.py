"""Every tool-call parser the pinned vLLM release registers: the allow-list for `models[].tool_call_parser`.

Read from the pinned release's own source, never restated: the wheel `llmp.verify.vllm_routes` names
(vLLM 0.14.0, its sha256 and git commit). `vllm serve --enable-auto-tool-choice --tool-call-parser <p>`
refuses at start-up a `<p>` that `ToolParserManager.list_registered()` does not return
(`vllm/entrypoints/openai/api_server.py`, "invalid tool call parser"); that list is the union of
`ToolParserManager.tool_parsers` and `.lazy_parsers` (`vllm/tool_parsers/abstract_tool_parser.py`).
The generator parses, with `ast`:

- `vllm/tool_parsers/__init__.py`: the `_TOOL_PARSERS_TO_REGISTER` dict (name -> (file, class)) that
  `register_lazy_tool_parsers()` passes to `register_lazy_module` at import; each entry's file must exist
  in the release and define the class, or the generator refuses (a lazy parser that fails to import
  would pass the name check and then fail on the first request);
- every module under `vllm/tool_parsers/`: `@ToolParserManager.register_module("<name>")` decorators and
  `ToolParserManager.register_lazy_module("<name>", ...)` calls with literal names (0.14.0 has none
  outside the dict: the docstring examples are strings, not calls).

Plugins (`--tool-parser-plugin`) are not read: the program renders none.

The record lives in the product (`llmplatform/serving/vllm_tool_parsers.json`), because the stack
config validates `tool_call_parser` against it and the program may not import tooling.

    python -m llmp.verify.vllm_tool_parsers --src <wheel or unpacked tree>          # print
    python -m llmp.verify.vllm_tool_parsers --src <wheel or unpacked tree> --write  # rewrite the record

`--src` defaults to `$LLMP_VLLM_SRC`. Without the source, the checked-in record is the record (the test
that regenerates it then skips and says so).
"""

from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path
from typing import Any

from llmp.verify.vllm_routes import GIT_COMMIT, VERSION, WHEEL, WHEEL_SHA256
from llmp.verify.vllm_source import record_main
from llmplatform.serving import tool_parsers

RECORD = tool_parsers.RECORD
PACKAGE_DIR = "vllm/tool_parsers/"
REGISTRY_FILE = PACKAGE_DIR + "__init__.py"
REGISTRY_NAME = "_TOOL_PARSERS_TO_REGISTER"


def _read_source(src: Path) -> dict[str, str]:
    """path inside the package -> text, for `vllm/_version.py` and the tool parser package."""
    wanted = lambda p: p == "vllm/_version.py" or (p.startswith(PACKAGE_DIR) and p.endswith(".py"))  # noqa: E731
    if src.is_file():
        with zipfile.ZipFile(src) as wheel:
            return {n: wheel.read(n).decode() for n in wheel.namelist() if wanted(n)}
    return {str(p.relative_to(src)): p.read_text() for p in src.rglob("*.py") if wanted(str(p.relative_to(src)))}


def _lazy_registry(tree: ast.Module) -> dict[str, tuple[str, str]]:
    """`_TOOL_PARSERS_TO_REGISTER`: name -> (module file name, class name)."""
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id == REGISTRY_NAME and node.value is not None:
            value = ast.literal_eval(node.value)
            if not isinstance(value, dict):
                break
            return {str(k): (str(v[0]), str(v[1])) for k, v in value.items()}
    raise ValueError(f"{REGISTRY_FILE} has no literal dict {REGISTRY_NAME}: the generator cannot read it")


def _registry_loop_calls(tree: ast.Module) -> set[int]:
    """ids of the registration calls inside `for ... in _TOOL_PARSERS_TO_REGISTER.items()` in a function the
    module calls at import (`register_lazy_tool_parsers()`); refuses a registry that is never registered."""
    called = {ast.unparse(n.value.func) for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)}
    out: set[int] = set()
    for fn in tree.body:
        if not (isinstance(fn, ast.FunctionDef) and fn.name in called):
            continue
        for loop in ast.walk(fn):
            if isinstance(loop, ast.For) and ast.unparse(loop.iter) == f"{REGISTRY_NAME}.items()":
                out |= {id(c) for c in ast.walk(loop) if isinstance(c, ast.Call)}
    if not out:
        raise ValueError(f"{REGISTRY_FILE}: no function called at import registers {REGISTRY_NAME}")
    return out


def _registered_by_call(tree: ast.Module, path: str, skip: set[int] = frozenset()) -> set[str]:
    """Names passed as literals to `ToolParserManager.register_module(...)` / `.register_lazy_module(...)`."""
    out: set[str] = set()
    for call in ast.walk(tree):
        if id(call) in skip:
            continue
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr in ("register_module", "register_lazy_module")
                and ast.unparse(call.func.value) == "ToolParserManager"):
            continue
        name = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "name"), None)
        if name is None:
            continue  # register_module(module=Cls): the name is the class's, not a literal
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            out.add(name.value)
        elif isinstance(name, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Constant) for e in name.elts):
            out.update(str(e.value) for e in name.elts)
        else:
            raise ValueError(f"{path}: a parser registration the generator cannot read: {ast.unparse(call)[:120]}")
    return out


def _defines_class(tree: ast.Module, name: str) -> bool:
    return any(isinstance(n, ast.ClassDef) and n.name == name for n in tree.body)


def generate(src: Path) -> dict[str, Any]:
    """The parser record from a vLLM wheel or unpacked tree (must be the pinned version)."""
    files = _read_source(src)
    version = files.get("vllm/_version.py", "")
    if f"'{VERSION}'" not in version or GIT_COMMIT not in version:
        raise ValueError(f"{src} is not vLLM {VERSION} (commit {GIT_COMMIT}): vllm/_version.py says {version!r}")
    if REGISTRY_FILE not in files:
        raise ValueError(f"{src} lacks {REGISTRY_FILE}")
    trees = {p: ast.parse(t, filename=p) for p, t in files.items() if p.startswith(PACKAGE_DIR)}
    lazy = _lazy_registry(trees[REGISTRY_FILE])
    for name, (module, cls) in sorted(lazy.items()):
        path = f"{PACKAGE_DIR}{module}.py"
        if path not in trees or not _defines_class(trees[path], cls):
            raise ValueError(f"tool parser {name!r} is registered as {path}:{cls}, which the release does not define")
    parsers = set(lazy)
    loop_calls = _registry_loop_calls(trees[REGISTRY_FILE])
    for path, tree in trees.items():
        parsers |= _registered_by_call(tree, path, loop_calls if path == REGISTRY_FILE else set())
    return {
        "source": {"package": "vllm", "version": VERSION, "gitCommit": GIT_COMMIT, "wheel": WHEEL,
                   "wheelSha256": WHEEL_SHA256, "registry": f"{REGISTRY_FILE} {REGISTRY_NAME}",
                   "modules": PACKAGE_DIR + "*.py"},
        "parsers": sorted(parsers),
    }


def load_record() -> dict[str, Any]:
    return json.loads(RECORD.read_text())


def main(argv: list[str] | None = None) -> int:
    return record_main(argv, prog="python -m llmp.verify.vllm_tool_parsers", description=__doc__.split("\n")[0],
                       record=RECORD, generate=generate, counted="parsers")


if __name__ == "__main__":
    raise SystemExit(main())
