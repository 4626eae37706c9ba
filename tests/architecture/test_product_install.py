"""`pip install .` installs the Pulumi program without the tools' libraries, and the program never loads them.

Issue 16's must-show: after `pip install .` (no extras), `import components, substrates` imports none of
jsonschema, pytest, matplotlib, network_config_analyzer (`nca`), celpy. The fast test imports every product
module in a fresh interpreter of this environment (where the tools are installed, so a wrong import would
load them); the slow one installs the project into an empty virtualenv and reads what pip put there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.gates import require

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("llmplatform", "components", "substrates")
TOOL_LIBRARIES = ("jsonschema", "pytest", "matplotlib", "nca", "network_config_analyzer", "celpy", "cel_expr_python",
                  "typer", "kubernetes_validate", "helm_python", "pulumi_policy", "hypothesis")
"""Top-level modules of the `tools` and `test` extras (network-config-analyzer's module is `nca`). Not `rich`:
httpx (a program dependency, the Vast client) imports it for its own CLI wherever it is installed; the
program's own modules never do (the import-linter contract), and a plain install does not have it."""
TOOL_DISTRIBUTIONS = ("jsonschema", "pytest", "matplotlib", "network-config-analyzer", "cel-python", "cel-expr-python",
                      "typer", "rich", "kubernetes-validate", "helm-python-sdk", "pulumi-policy", "hypothesis",
                      "import-linter")
NOT_SHIPPED = ("tests/", "llmplatform/testing/", "substrates/vast/fake_server.py", "prisma_wasm", "node_modules")

PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import components, substrates
    loaded = []
    for package in {product!r}:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            # The gateway's hooks are source files the LiteLLM container runs (they import litellm there).
            if not info.name.startswith("llmplatform.gateway.hooks."):
                importlib.import_module(info.name)
                loaded.append(info.name)
    tops = sorted({{name.split(".")[0] for name in sys.modules}})
    print(json.dumps({{"modules": loaded, "top_level": tops, "files": {{p: importlib.import_module(p).__file__
                                                                      for p in {product!r}}}}}))
    """
).format(product=PRODUCT)


def probe(python: str | Path, cwd: Path) -> dict:
    done = subprocess.run([str(python), "-c", PROBE], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_every_program_module_loads_no_tool_library_nor_test_support() -> None:
    result = probe(sys.executable, ROOT)
    assert len(result["modules"]) > 40  # the walk reached the program, not just three empty packages
    assert all(Path(f).is_relative_to(ROOT) for f in result["files"].values()), result["files"]
    loaded = sorted(set(result["top_level"]) & {*TOOL_LIBRARIES, "llmp", "tests"})
    assert loaded == [], f"importing the Pulumi program loaded tool or test modules: {loaded}"


def source_copy(dest: Path) -> Path:
    """What a clone holds, minus local state: pip builds in-tree, so it must not write into this checkout."""
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", "*.egg-info")
    for folder in (*PRODUCT, "llmp", "tests"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore, symlinks=True)
    return dest


@pytest.mark.slow
def test_pip_install_without_extras_ships_the_program_only_and_it_imports_no_tool(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    src, venv = source_copy(tmp_path / "src"), tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile",
                           "--disable-pip-version-check", str(src)], capture_output=True, text=True, timeout=600)
    require(done.returncode == 0, f"`pip install .` into a fresh virtualenv failed (no package index?): "
                                  f"{done.stderr.strip()[-1500:]}")

    meta = subprocess.run([str(python), "-c", "import json, importlib.metadata as m; d = m.distribution('llm-platform');"
                           "print(json.dumps({'requires': d.requires, 'files': [str(f) for f in d.files]}))"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True)
    dist = json.loads(meta.stdout)
    unconditional = sorted(r for r in dist["requires"] if "extra ==" not in r)
    tool_requirements = [r for r in unconditional if r.split("==")[0].strip().lower() in TOOL_DISTRIBUTIONS]
    assert tool_requirements == [], f"tool libraries required without an extra: {tool_requirements}"
    assert {r.split("==")[0] for r in unconditional} >= {"pulumi", "pulumi-kubernetes", "pydantic", "PyYAML"}
    shipped = [f for f in dist["files"] if any(part in f for part in NOT_SHIPPED)]
    assert shipped == [], f"test support in the installed package: {shipped[:10]}"

    installed = subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True, text=True)
    assert installed.returncode != 0  # the venv has no pip of its own: nothing but what `pip install .` brought
    result = probe(python, tmp_path)  # cwd outside the source: the imports come from site-packages
    assert all("site-packages" in f for f in result["files"].values()), result["files"]
    loaded = sorted(set(result["top_level"]) & {*TOOL_LIBRARIES, "rich", "llmp", "tests"})
    assert loaded == [], f"`import components, substrates` after `pip install .` loaded: {loaded}"
    absent = subprocess.run([str(python), "-c", "import jsonschema"], capture_output=True, text=True)
    assert absent.returncode != 0  # and they are not installed at all
