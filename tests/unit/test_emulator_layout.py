"""The emulator stands on its own: it imports only itself and the data-only package, without cycles.

Read from the source with ``ast`` (every import counts: module level, inside functions and
under ``TYPE_CHECKING``), so a lazy import cannot hide a dependency or a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import provisioner.emulator

ROOT = Path(provisioner.emulator.__file__).parent
PACKAGE = "provisioner.emulator"
ALLOWED_OUTSIDE = ("provisioner.data",)


def _module_name(path: Path) -> str:
    parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> every ``provisioner.*`` module it names in an import statement."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    found: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("provisioner")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("provisioner"):
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    targets.add(submodule if submodule in modules else node.module)
        found[name] = targets
    return found


def test_emulator_imports_nothing_of_the_tool_but_its_data() -> None:
    outside = {
        (module, target)
        for module, targets in _imports().items()
        for target in targets
        if not target.startswith((PACKAGE + ".", *ALLOWED_OUTSIDE)) and target != PACKAGE
    }
    assert outside == set()


def test_emulator_modules_import_each_other_without_cycles() -> None:
    graph = {
        m: {t for t in ts if t == PACKAGE or t.startswith(PACKAGE + ".")} for m, ts in _imports().items()
    }
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_graph_resources_keep_state_apart_from_http() -> None:
    """moto's split: a resource's models never import starlette or its own HTTP handlers."""
    for models in (ROOT / "graph").glob("*/models.py"):
        tree = ast.parse(models.read_text(encoding="utf-8"))
        names = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        }
        assert not any(n.startswith("starlette") or n.endswith(".responses") for n in names), models
