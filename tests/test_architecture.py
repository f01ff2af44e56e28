"""Dependencies point one way: schemas is the leaf, producers never import workers, no cycles.

The source is read with ``ast``; nothing is imported, so a module that fails to import
(or imports Redis at the top) cannot hide its dependencies from this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "producers", "workers", "liveblog")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        if (ROOT / package).is_dir()
        for path in sorted((ROOT / package).rglob("*.py"))
    }


MODULES = project_modules()


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _import_nodes(tree: ast.AST, *, runtime_only: bool) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if runtime_only and _is_type_checking_block(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(name: str, *, runtime_only: bool = False) -> set[str]:
    """Every dotted name the module imports, resolved to project modules where possible."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    targets: set[str] = set()
    for node in _import_nodes(tree, runtime_only=runtime_only):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = _absolute(node, name, path.name == "__init__.py")
        submodules = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES}
        # "from workers import stamps" depends on the module workers.stamps, not on workers/__init__
        targets.update(submodules)
        if len(submodules) < len(node.names):
            targets.add(base)
    return {t for t in targets if t}


def top_package(dotted: str) -> str:
    return dotted.split(".", 1)[0]


def project_graph(*, runtime_only: bool) -> dict[str, set[str]]:
    return {
        name: {t for t in imports_of(name, runtime_only=runtime_only) if t in MODULES and t != name}
        for name in MODULES
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        path.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == GREY:
                return [*path[path.index(nxt):], nxt]
            if colour[nxt] == WHITE and (cycle := visit(nxt)):
                return cycle
        path.pop()
        colour[node] = BLACK
        return None

    for start in sorted(graph):
        if colour[start] == WHITE and (cycle := visit(start)):
            return cycle
    return None


# --- the scanner itself --------------------------------------------------------------------


def test_the_scan_sees_the_projects_modules_and_their_imports() -> None:
    assert {"schemas.errors", "schemas.posts", "producers.files", "workers.stamps", "workers.parsers.text"} <= set(MODULES)
    assert {"schemas.documents", "schemas.errors"} <= imports_of("producers.files")
    assert {"workers.stamps", "workers.identity", "workers.normalize", "schemas.posts"} <= imports_of(
        "workers.parsers.text"
    )


def test_relative_imports_are_resolved_against_the_importing_module() -> None:
    node = ast.parse("from ..errors import InputRejected").body[0]
    package_node = ast.parse("from .documents import RawDocument").body[0]

    assert _absolute(node, "schemas.sub.module", is_package=False) == "schemas.errors"
    assert _absolute(package_node, "schemas", is_package=True) == "schemas.documents"


def test_a_two_module_loop_is_reported_as_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"a"}, "c": set()}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


# --- the rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(n for n in MODULES if top_package(n) == "schemas"))
def test_schemas_import_nothing_from_producers_workers_or_liveblog(name: str) -> None:
    forbidden = {t for t in imports_of(name) if top_package(t) in {"producers", "workers", "liveblog"}}

    assert forbidden == set(), f"{name} is a contract module and must stay a leaf"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if top_package(n) == "producers"))
def test_producers_never_import_workers(name: str) -> None:
    forbidden = {t for t in imports_of(name) if top_package(t) == "workers"}

    assert forbidden == set(), f"{name} must enqueue jobs by dotted path (schemas.settings), not import workers"


def test_there_are_no_import_cycles_among_the_projects_modules() -> None:
    cycle = find_cycle(project_graph(runtime_only=True))

    assert cycle is None, " -> ".join(cycle or [])


def test_importing_a_submodule_from_its_package_is_an_edge_to_the_submodule_only() -> None:
    assert "workers.stamps" in imports_of("workers.parsers.text")
    assert "workers" not in imports_of("workers.parsers.text")
