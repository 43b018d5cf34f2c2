"""The layer rule, held by test: dependencies point inward only (docs/architecture.md).

- ``swf_domain`` imports nothing but the standard library (and itself);
- ``swf_app`` never imports ``swf_adapters`` or ``swf_entry``, nor the libraries the
  adapters wrap;
- ``swf_adapters`` never imports ``swf_entry``.

Every import counts, also one inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ADAPTED_LIBRARIES = {"sqlalchemy", "psutil", "Pyro5", "serpent", "paramiko", "drmaa", "mpi4py"}
FORBIDDEN = {
    "swf_app": {"swf_adapters", "swf_entry", *ADAPTED_LIBRARIES},
    "swf_adapters": {"swf_entry"},
}


def imported_roots(path: Path) -> set[str]:
    """The top-level package of every absolute import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def modules_of(layer: str) -> list[Path]:
    files = sorted((SRC / layer).rglob("*.py"))
    assert files, f"no module found in {SRC / layer}"
    return files


@pytest.mark.parametrize("path", modules_of("swf_domain"), ids=lambda p: p.name)
def test_the_domain_imports_only_the_standard_library(path: Path) -> None:
    outside = imported_roots(path) - set(sys.stdlib_module_names) - {"swf_domain", "__future__"}
    assert not outside, f"{path.relative_to(SRC)} imports {sorted(outside)}"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_an_outer_one(layer: str) -> None:
    found = {
        str(path.relative_to(SRC)): sorted(imported_roots(path) & FORBIDDEN[layer])
        for path in modules_of(layer)
    }
    assert {module: names for module, names in found.items() if names} == {}


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from swf_entry.cli import app\n    import psutil\n")
    assert imported_roots(module) == {"swf_entry", "psutil"}
