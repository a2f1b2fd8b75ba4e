"""Lower layers never import upward: core ← capabilities ← pipeline ← web and CLI.

Every import in every module of ``src/clameur`` (module level and inside functions) is read
with ``ast``; an import of a higher layer fails the test with the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "clameur"

CORE = (
    "clameur.db",
    "clameur.config",
    "clameur.errors",
    "clameur.clock",
    "clameur.logging",
    "clameur.core",
    "clameur.fetch",
)
CAPABILITIES = (
    "clameur.mentions",
    "clameur.analysis",
    "clameur.listening",
    "clameur.detection",
    "clameur.care",
    "clameur.tenancy",
    "clameur.reports",
    "clameur.staffing",
    "clameur.sources",
)
PIPELINE = ("clameur.pipeline", "clameur.demo")
TOP = ("clameur.web", "clameur.cli", "clameur.__main__")
ALLOWED = {
    # The one list of every capability's tables, for Alembic and create_all.
    ("clameur.db.registry", "*"),
}


def layer(module: str) -> int:
    for level, prefixes in enumerate((CORE, CAPABILITIES, PIPELINE, TOP)):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    if module == "clameur":
        return 0
    raise AssertionError(f"{module} belongs to no layer: add it to tests/test_layers.py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return [(line, name) for line, name in found if name.split(".")[0] == "clameur"]


def test_no_module_imports_a_higher_layer() -> None:
    wrong: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, name in _imports(tree, module, path.name == "__init__.py"):
            if (module, "*") in ALLOWED or name == "clameur":
                continue
            if layer(name) > layer(module):
                wrong.append(f"{path.relative_to(SRC.parent)}:{line} {module} imports {name}")
    assert wrong == [], "\n".join(wrong)


def test_the_layer_check_catches_an_upward_import() -> None:
    tree = ast.parse("def f():\n    from clameur.web.auth import api_principal\n")
    names = _imports(tree, "clameur.care.replies", False)
    assert names == [(2, "clameur.web.auth")]
    assert layer(names[0][1]) > layer("clameur.care.replies")
