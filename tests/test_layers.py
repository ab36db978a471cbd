"""Layers point down: a package imports only the packages under it.

scoring/ is the bottom (the face pipeline and the model config); the server,
the converter and the scanner sit on it; training and benchmarks on top.
Nothing imports tests/. Imports inside functions count too: they are read
from the source, not from what one run happened to load.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("scoring", "backend", "converter", "scan", "training", "benchmarks", "harness", "tests")

# (package, the project packages it may import besides itself)
ALLOWED = [
    ("scoring", set()),
    ("backend", {"scoring"}),
    ("converter", {"scoring"}),
    ("scan", {"scoring", "backend"}),
    ("training", {"scoring"}),
    ("benchmarks", {"scoring", "backend", "converter", "scan", "training", "harness"}),
    ("harness", {"scoring", "backend"}),
]


def project_imports(path: Path) -> set[str]:
    """The project packages a Python file imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in PACKAGES)
    return found


@pytest.mark.parametrize(("package", "allowed"), ALLOWED, ids=[p for p, _ in ALLOWED])
def test_a_package_imports_only_the_layers_under_it(package, allowed):
    wrong = {
        str(path.relative_to(REPO)): sorted(project_imports(path) - allowed - {package})
        for path in sorted((REPO / package).rglob("*.py"))
    }
    wrong = {path: names for path, names in wrong.items() if names}
    assert not wrong, f"imports pointing up or sideways: {wrong}; move the shared code down into scoring/ or harness/"


def test_the_server_process_loads_no_training_code():
    # the server's whole import graph, model loading and heatmaps included, without building an app
    code = ("import sys, pkgutil, importlib, backend, scoring\n"
            "for pkg in (backend, scoring):\n"
            "    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + '.'):\n"
            "        importlib.import_module(m.name)\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('training', 'tests', 'benchmarks', 'converter')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
