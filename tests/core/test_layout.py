"""Guard rails of the source tree: every plugin module is reachable and packaged, and the import
rules of docs/architecture.md hold (checked on the source, lazy imports inside functions included)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
QT = ("PyQt5", "pyqtgraph", "PyQt6", "PySide2", "PySide6")
JAX = ("jax", "jaxlib", "flax", "optax", "orbax")
#: The label model and image IO: they must never import JAX, not even through other modules.
JAX_FREE = ("mia_core.labels", "mia_core.raster", "mia_core.label_store", "mia_core.document", "mia_core.images")


def _module_name(path: Path) -> str:
    """Import name of a source file (``plugins/`` installs as ``mia_plugins``)."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "plugins":
        parts[0] = "mia_plugins"
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = sorted((ROOT / "mia_core").rglob("*.py")) + sorted((ROOT / "plugins").rglob("*.py"))
    return {_module_name(f): f for f in files}


SOURCES = _sources()


def _imports(name: str) -> set[str]:
    """Every module ``name`` imports anywhere in its source (absolute names; relative resolved)."""
    path = SOURCES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            # ``from pkg import module`` imports a module too
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in SOURCES)
    return found


IMPORTS = {name: _imports(name) for name in SOURCES}


def _top(module: str) -> str:
    return module.split(".")[0]


def _offenders(modules, banned) -> list[str]:
    return sorted(f"{m} imports {i}" for m in modules for i in IMPORTS[m] if _top(i) in banned)


def test_nothing_outside_the_viewer_imports_qt():
    outside = [m for m in SOURCES if not m.startswith("mia_core.viewer")]
    assert _offenders(outside, QT) == []


def test_label_model_and_image_io_never_import_jax_even_indirectly():
    for start in JAX_FREE:
        seen, todo = set(), [start]
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            todo.extend(i for i in IMPORTS.get(module, ()) if i in SOURCES)
        assert _offenders(seen, JAX) == [], f"{start} reaches JAX"


def test_core_never_imports_plugins():
    core = [m for m in SOURCES if m.startswith("mia_core")]
    assert _offenders(core, ("mia_plugins",)) == []


def _family(module: str) -> tuple[str, str]:
    """(kind, feature) of a plugin module: ``<feature>_net`` belongs to ``<feature>``."""
    kind, _, stem = module.removeprefix("mia_plugins.").partition(".")
    return kind, stem.removesuffix("_net")


def test_plugins_never_import_other_plugins():
    plugin_modules = [m for m in SOURCES if m.startswith("mia_plugins.") and m.count(".") == 2]
    bad = sorted(
        f"{m} imports {i}"
        for m in plugin_modules
        for i in IMPORTS[m]
        if i.startswith("mia_plugins") and (i.count(".") < 2 or _family(i) != _family(m))
    )
    assert bad == []


def test_viewer_never_imports_the_command_line():
    viewer = [m for m in SOURCES if m.startswith("mia_core.viewer")]
    bad = sorted(f"{m} imports {i}" for m in viewer for i in IMPORTS[m]
                 if i.startswith("mia_core.commands") or i == "mia_core.cli")
    assert bad == []


def test_every_plugin_module_is_registered_or_imported_by_a_registered_one():
    registered = set(PYPROJECT["project"]["entry-points"]["mia"].values())
    missing_targets = sorted(registered - set(SOURCES))
    assert missing_targets == [], "entry points naming no module"
    reached, todo = set(), list(registered)
    while todo:
        module = todo.pop()
        if module in reached:
            continue
        reached.add(module)
        todo.extend(i for i in IMPORTS.get(module, ()) if i.startswith("mia_plugins") and i in SOURCES)
    modules = {m for m, p in SOURCES.items() if m.startswith("mia_plugins.") and p.name != "__init__.py"}
    assert sorted(modules - reached) == [], "plugin modules nobody reaches (dead code)"


def test_every_package_folder_is_packaged():
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {_module_name(p) for p in SOURCES.values() if p.name == "__init__.py"}
    assert sorted(folders - packages) == []
    # and every folder holding modules is a package (has an __init__.py)
    for path in SOURCES.values():
        assert (path.parent / "__init__.py").is_file(), f"{path.parent} has no __init__.py"


@pytest.mark.parametrize("module", ["mia_plugins.tools.draw", "mia_core.engine.model"])
def test_the_rules_see_real_imports(module):
    # the checks above are only as good as the import scan: it must see these known imports
    expected = {"mia_plugins.tools.draw": "mia_core.tool_base", "mia_core.engine.model": "flax"}[module]
    assert expected in IMPORTS[module]


def test_the_code_passes_ruff():
    import subprocess
    import sys

    pytest.importorskip("ruff", reason="ruff is in the test extra: pip install -e \".[test]\"")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
