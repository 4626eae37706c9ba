"""The product never imports the tools or the tests, and the tools never import the tests.

`[tool.importlinter]` in pyproject.toml holds the contracts; `lint-imports` checks them on this checkout,
and on a copy with one wrong-direction import planted, where it must fail and name the broken contract
(a contract that cannot fail would prove nothing).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PRODUCT = "Product (llmplatform, components, substrates) imports no tool, test support or tool library"
TOOLS = "Tools (llmp) import no test support"
PACKAGES = ("llmplatform", "components", "substrates", "llmp", "tests")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.is_file():
        pytest.fail(f"lint-imports not installed next to {sys.executable}: `pip install -e '.[tools,test]'`")
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300)


def copy_of_the_tree(dest: Path) -> Path:
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    ignore = shutil.ignore_patterns("__pycache__", "node_modules", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package, ignore=ignore, symlinks=True)
    return dest


def plant(tree: Path, module: str, line: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # planted by the contract test\n")


def test_every_import_contract_is_kept_on_this_checkout() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"{PRODUCT} KEPT" in " ".join(done.stdout.split())
    assert f"{TOOLS} KEPT" in " ".join(done.stdout.split())
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken", "kept"),
    [
        ("components/serving_stack.py", "import llmp.verify", PRODUCT, TOOLS),
        ("llmplatform/serving/vllm.py", "import jsonschema", PRODUCT, TOOLS),
        ("substrates/vast/api.py", "import matplotlib.pyplot", PRODUCT, TOOLS),
        ("llmp/cli.py", "from tests.support import gates", TOOLS, PRODUCT),
        ("llmp/verify/manifests/crd.py", "import pytest", TOOLS, PRODUCT),
    ],
    ids=["component-imports-a-tool", "builder-imports-jsonschema", "substrate-imports-matplotlib",
         "cli-imports-test-support", "tool-imports-pytest"],
)
def test_a_planted_wrong_direction_import_breaks_the_contract_that_forbids_it(
    tmp_path: Path, module: str, line: str, broken: str, kept: str
) -> None:
    tree = copy_of_the_tree(tmp_path)
    plant(tree, module, line)
    done = lint_imports(tree)
    out = " ".join(done.stdout.split())
    assert done.returncode != 0, done.stdout[-3000:]
    assert f"{broken} BROKEN" in out
    assert f"{kept} KEPT" in out
    assert "1 kept, 1 broken" in done.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    imported = line.split()[1]
    if imported.split(".")[0] not in PACKAGES:
        imported = imported.split(".")[0]  # a third-party import is reported by its top-level package
    assert f"{importer} -> {imported}" in done.stdout.split("Broken contracts", 1)[1]


def test_test_support_planted_in_the_product_breaks_both_contracts(tmp_path: Path) -> None:
    """The tools import the product, so a product module that loads test support drags it into the tools too."""
    tree = copy_of_the_tree(tmp_path)
    plant(tree, "substrates/vast/api.py", "from tests.support import gates")
    done = lint_imports(tree)
    out = " ".join(done.stdout.split())
    assert done.returncode != 0, done.stdout[-3000:]
    assert f"{PRODUCT} BROKEN" in out and f"{TOOLS} BROKEN" in out
    assert "substrates.vast.api -> tests.support.gates" in done.stdout
