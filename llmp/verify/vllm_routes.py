"""Every HTTP route the pinned vLLM OpenAI server serves, and whether its API key guards it.

Read from the pinned release's own source, never restated: vLLM 0.14.0 as published on PyPI
(`vllm-0.14.0-cp38-abi3-manylinux_2_31_x86_64.whl`, sha256 `9362cadd...4a01`, whose
`vllm/_version.py` names git commit `b17039bcc`, the `v0.14.0` tag the image `vllm/vllm-openai:v0.14.0`
is built from; see `llmplatform.serving.images`). The generator parses, with `ast`:

- `vllm/entrypoints/openai/api_server.py`: the module router (included unconditionally by `build_app`),
  the FastAPI documentation routes (`FastAPI(...)` unless `--disable-fastapi-docs`), and
  `AuthenticationMiddleware.__call__`, whose `url_path.startswith(<prefix>)` decides what the key guards;
- `vllm/entrypoints/sagemaker/routes.py` (`/ping`, `/invocations`, added to that router);
- `vllm/entrypoints/serve/*/api_router.py`, `serve/instrumentator/*.py` (health, metrics mount, docs,
  server info) and `vllm/entrypoints/pooling/*/api_router.py`: each route with the condition under which
  its `attach_router` registers it (an early `if not X: return`, or an enclosing `if X:`).

`model_hosting_container_standards.sagemaker.bootstrap(app)` (a vLLM dependency, `>=0.1.10,<1.0.0`) adds
`POST /adapters` and `DELETE /adapters/{adapter_name}` when vLLM registered its LoRA handlers, which it
does only under `VLLM_ALLOW_RUNTIME_LORA_UPDATING` (package source, versions 0.1.10 to 0.1.16,
`sagemaker/lora/routes.py`): those two are stated in `_BOOTSTRAP_ROUTES`, not parsed.

    python -m llmp.verify.vllm_routes --src <wheel or unpacked tree>          # print
    python -m llmp.verify.vllm_routes --src <wheel or unpacked tree> --write  # rewrite the record

`--src` defaults to `$LLMP_VLLM_SRC`. Without the source, `vllm_routes.json` is the record (the test that
regenerates it then skips and says so).
"""

from __future__ import annotations

import ast
import json
import re
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from llmp.verify.vllm_source import record_main

RECORD = Path(__file__).with_name("vllm_routes.json")
VERSION = "0.14.0"
GIT_COMMIT = "b17039bcc"
WHEEL = "vllm-0.14.0-cp38-abi3-manylinux_2_31_x86_64.whl"
WHEEL_SHA256 = "9362cadde2cd1329a0c4a0ea9eace233d79576b3d6f5648b854922b2a2554a01"
METHODS = ("get", "post", "put", "delete", "patch", "head", "options")
API_SERVER = "vllm/entrypoints/openai/api_server.py"
ROUTE_FILES = (
    re.compile(r"^vllm/entrypoints/openai/api_server\.py$"),
    re.compile(r"^vllm/entrypoints/sagemaker/routes\.py$"),
    re.compile(r"^vllm/entrypoints/serve/[a-z_]+/api_router\.py$"),
    re.compile(r"^vllm/entrypoints/serve/instrumentator/[a-z_]+\.py$"),
    re.compile(r"^vllm/entrypoints/pooling/[a-z_]+/api_router\.py$"),
)
_BOOTSTRAP_ROUTES = (
    ("POST", "/adapters"),
    ("DELETE", "/adapters/{adapter_name}"),
)
_DOCS_ROUTES = (("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"))
"""What FastAPI adds by itself unless `openapi_url`/`docs_url`/`redoc_url` are None."""


def _read_source(src: Path) -> dict[str, str]:
    """path inside the package -> text, for the files the routes live in (from a wheel or a tree)."""
    wanted = lambda p: p == "vllm/_version.py" or any(r.match(p) for r in ROUTE_FILES)  # noqa: E731
    if src.is_file():
        with zipfile.ZipFile(src) as wheel:
            return {n: wheel.read(n).decode() for n in wheel.namelist() if wanted(n)}
    return {str(p.relative_to(src)): p.read_text() for p in src.rglob("*.py") if wanted(str(p.relative_to(src)))}


def _atom(test: ast.expr, negate: bool) -> dict[str, Any]:
    text = ast.unparse(test)
    if isinstance(test, ast.Attribute) and isinstance(test.value, ast.Name) and test.value.id == "envs":
        return {"kind": "env", "name": test.attr, "negate": negate, "text": text}
    if isinstance(test, ast.Attribute) and ast.unparse(test.value) in ("args", "app.state.args"):
        return {"kind": "arg", "name": test.attr, "negate": negate, "text": text}
    if (isinstance(test, ast.Call) and ast.unparse(test.func) == "getattr" and len(test.args) >= 2
            and isinstance(test.args[1], ast.Constant)):
        return {"kind": "arg", "name": test.args[1].value, "negate": negate, "text": text}
    return {"kind": "other", "name": "", "negate": negate, "text": text}


def _condition(test: ast.expr, *, negate: bool = False) -> list[dict[str, Any]]:
    """An `if` test as a conjunction of atoms {kind: env|arg|other, name, negate, text}: `envs.X` is an
    environment variable, `args.x` / `getattr(app.state.args, "x", ...)` a `vllm serve` option, anything
    else (a local variable, a file check) `other`. A disjunction that is not a conjunction after De
    Morgan stays one `other` atom."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _condition(test.operand, negate=not negate)
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) and not negate:
        return [a for v in test.values for a in _condition(v)]
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or) and negate:
        return [a for v in test.values for a in _condition(v, negate=True)]
    return [_atom(test, negate)]


def _route_decorators(fn: ast.AST) -> Iterator[tuple[str, str, int]]:
    for dec in getattr(fn, "decorator_list", []):
        if (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) and dec.func.attr in METHODS
                and isinstance(dec.func.value, ast.Name) and dec.func.value.id in ("router", "app")
                and dec.args and isinstance(dec.args[0], ast.Constant) and isinstance(dec.args[0].value, str)):
            yield dec.func.attr.upper(), dec.args[0].value, dec.lineno


def _walk_guarded(body: list[ast.stmt], cond: list[dict[str, Any]]) -> Iterator[tuple[ast.stmt, list[dict]]]:
    """Statements of a function body with the conditions they run under (early returns and `if` blocks)."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            returns = any(isinstance(s, ast.Return) for s in stmt.body)
            if returns and not stmt.orelse:
                # `if not X: return` -> the rest runs under X.
                yield from _walk_guarded(stmt.body, cond)
                cond = cond + _condition(stmt.test, negate=True)
                continue
            yield from _walk_guarded(stmt.body, cond + _condition(stmt.test))
            yield from _walk_guarded(stmt.orelse, cond + _condition(stmt.test, negate=True))
            continue
        yield stmt, cond
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield child, cond


def _routes_of_file(path: str, text: str) -> list[dict[str, Any]]:
    tree = ast.parse(text)
    out: list[dict[str, Any]] = []
    attach = next((n for n in tree.body if isinstance(n, ast.FunctionDef)
                   and n.name in ("attach_router", "register_sagemaker_routes")), None)
    include_cond: list[dict[str, Any]] = []
    inner: list[tuple[ast.stmt, list[dict]]] = []
    if attach is not None:
        inner = list(_walk_guarded(attach.body, []))
        for stmt, cond in inner:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call) and ast.unparse(node.func) == "app.include_router":
                    include_cond = cond
    inner_fns = {id(s) for s, _ in inner}
    module_cond = include_cond if attach is not None and path != API_SERVER else []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for method, route, line in _route_decorators(node):
                out.append({"method": method, "path": route, "file": path, "line": line, "condition": module_cond})
    for stmt, cond in inner:
        if id(stmt) in inner_fns and isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for method, route, line in _route_decorators(stmt):
                out.append({"method": method, "path": route, "file": path, "line": line, "condition": cond})
    for node in ast.walk(tree):
        # A Starlette Mount (vLLM's /metrics) or app.mount (offline docs' /static) serves every method.
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("Mount", "app.mount") and node.args \
                and isinstance(node.args[0], ast.Constant):
            cond = next((c for s, c in inner if any(n is node for n in ast.walk(s))), [])
            out.append({"method": "*", "path": node.args[0].value, "file": path, "line": node.lineno,
                        "condition": cond})
    return out


def _guard(text: str) -> dict[str, Any]:
    """AuthenticationMiddleware's rule: the path prefix it checks and the methods it lets through."""
    tree = ast.parse(text)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AuthenticationMiddleware")
    call = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__call__")
    prefixes = [n.args[0].value for n in ast.walk(call) if isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute) and n.func.attr == "startswith"
                and ast.unparse(n.func.value) == "url_path" and isinstance(n.args[0], ast.Constant)]
    exempt = sorted({n.comparators[0].value for n in ast.walk(call) if isinstance(n, ast.Compare)
                     and "method" in ast.unparse(n.left) and isinstance(n.comparators[0], ast.Constant)})
    if len(prefixes) != 1:
        raise ValueError(f"AuthenticationMiddleware: expected one url_path.startswith(...) test, found {prefixes}")
    return {"middleware": "AuthenticationMiddleware", "file": API_SERVER, "line": call.lineno,
            "pathPrefix": prefixes[0], "exemptMethods": exempt,
            "installedWhen": "--api-key or VLLM_API_KEY is set (build_app)"}


def generate(src: Path) -> dict[str, Any]:
    """The route record from a vLLM wheel or unpacked tree (must be the pinned version)."""
    files = _read_source(src)
    version = files.get("vllm/_version.py", "")
    if f"'{VERSION}'" not in version or GIT_COMMIT not in version:
        raise ValueError(f"{src} is not vLLM {VERSION} (commit {GIT_COMMIT}): vllm/_version.py says {version!r}")
    guard = _guard(files[API_SERVER])
    routes: list[dict[str, Any]] = []
    for path in sorted(files):
        if any(r.match(path) for r in ROUTE_FILES):
            routes += _routes_of_file(path, files[path])
    docs_cond = [{"kind": "arg", "name": "disable_fastapi_docs", "negate": True,
                  "text": "args.disable_fastapi_docs"}]
    routes += [{"method": m, "path": p, "file": "fastapi (FastAPI() defaults, build_app)", "line": 0,
                "condition": docs_cond} for m, p in _DOCS_ROUTES]
    lora = [{"kind": "env", "name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "negate": False,
             "text": "envs.VLLM_ALLOW_RUNTIME_LORA_UPDATING"}]
    routes += [{"method": m, "path": p, "file": "model_hosting_container_standards (sagemaker.bootstrap)", "line": 0,
                "condition": lora} for m, p in _BOOTSTRAP_ROUTES]
    for r in routes:
        r["guarded"] = r["path"].startswith(guard["pathPrefix"])
    unique = {(r["method"], r["path"], r["file"]): r for r in routes}
    return {
        "source": {"package": "vllm", "version": VERSION, "gitCommit": GIT_COMMIT, "wheel": WHEEL,
                   "wheelSha256": WHEEL_SHA256},
        "guard": guard,
        "routes": [unique[k] for k in sorted(unique, key=lambda k: (k[1], k[0], k[2]))],
    }


def load() -> dict[str, Any]:
    """The checked-in record."""
    return json.loads(RECORD.read_text())


def condition_holds(conds: list[Mapping[str, Any]], env: Mapping[str, str], args: list[str]) -> bool:
    """Is a route registered for a container with this environment and these `vllm serve` arguments?

    Every atom must hold. env: set to a value other than "", "0", "false". arg: `--<name-with-dashes>`
    present (an option given a value counts as on). An atom the record cannot name (kind other) counts
    as holding: a route is taken as served unless the rendered container shows it is not.
    """
    for cond in conds:
        if cond["kind"] == "env":
            on = env.get(cond["name"], "").strip().lower() not in ("", "0", "false")
        elif cond["kind"] == "arg":
            flag = "--" + cond["name"].replace("_", "-")
            on = any(a == flag or a.startswith(flag + "=") for a in args)
        else:
            continue
        if on == cond["negate"]:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    return record_main(argv, prog="python -m llmp.verify.vllm_routes", description=__doc__.split("\n")[0], record=RECORD,
                       generate=generate, counted="routes")


if __name__ == "__main__":
    raise SystemExit(main())
