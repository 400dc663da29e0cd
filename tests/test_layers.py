"""The parts of DESIGN.md and their nevers, checked on the source (imports as written, read
with ``ast``; nothing is imported). Every labline module belongs to exactly one part::

    Edges      cli/, server/, __main__, the demo     parse, call Client, render
    Runtime    serving/                              uses Client and the public API
    Services   Client, the module-level wrappers, the use cases (tracking, compare,
               hypotheses, models/registry)
    Wiring     store/_factory (and the store package that re-exports it)
    Backends   store/sql/, artifacts/
    Contracts  store/ base classes
    Domain     core/
    Ground     _exceptions, _settings, _imports, _environment, and _http_errors (the one
               HTTP error table over the exception tree that server/ and serving/ share)
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import labline

ROOT = Path(labline.__file__).parent

PARTS = ("Ground", "Domain", "Contracts", "Backends", "Wiring", "Services", "Runtime", "Edges")
RANK = {p: i for i, p in enumerate(PARTS)}


def part_of(module: str) -> str | None:
    """The part a ``labline...`` module belongs to (``None`` for a non-labline module)."""
    parts = module.split(".")
    if parts[0] != "labline":
        return None
    rest = parts[1:]
    head = rest[0] if rest else "__init__"
    if head in ("_exceptions", "_settings", "_imports", "_environment", "_http_errors"):
        return "Ground"
    if head == "core":
        return "Domain"
    if head == "store":
        sub = rest[1] if len(rest) > 1 else "__init__"
        if sub in ("sql", "http"):
            return "Backends"
        if sub in ("_factory", "__init__"):
            return "Wiring"
        return "Contracts"
    if head == "artifacts":
        return "Backends"
    if head == "serving":
        return "Runtime"
    if head in ("cli", "server", "__main__", "_demo") or head.startswith("_demo_"):
        return "Edges"
    return "Services"  # __init__, _client, _api, _tracking, _compare, _hypotheses, models


def _is_public(module: str) -> bool:
    """Whether a module path is public: no component after ``labline`` starts with ``_``."""
    return not any(p.startswith("_") for p in module.split(".")[1:])


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    typing_only: bool = False  # under ``if TYPE_CHECKING:``: names a type, runs nothing


@dataclass(frozen=True)
class StoreAccess:
    module: str
    line: int


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = [root.name, *rel.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(root: Path, path: Path) -> Iterator[Import]:
    """Absolute labline modules a file imports; ``from pkg import name`` names the submodule
    when ``name`` is one, else the package."""
    module = _module_name(root, path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno, id(node) in typing_only)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = root.parent.joinpath(*f"{target}.{alias.name}".split("."))
                is_module = sub.with_suffix(".py").is_file() or (sub / "__init__.py").is_file()
                yield Import(
                    module,
                    f"{target}.{alias.name}" if is_module else target,
                    node.lineno,
                    id(node) in typing_only,
                )


def _store_accesses(root: Path, path: Path) -> Iterator[StoreAccess]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "store":
            yield StoreAccess(_module_name(root, path), node.lineno)


def offences(root: Path) -> list[str]:
    """Every import or access under ``root`` (a ``labline`` package folder) that breaks a
    never of DESIGN.md, one line each."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for imp in _imports(root, path):
            src, dst = part_of(imp.importer), part_of(imp.imported)
            where = f"{imp.importer}:{imp.line} imports {imp.imported}"
            top = imp.imported.split(".")[0]
            if src == "Domain" and top in (
                "sqlalchemy",
                "alembic",
                "starlette",
                "uvicorn",
                "click",
            ):
                found.append(f"{where}: Domain uses no I/O framework")
            if dst is None or src is None:
                continue
            if src == "Domain" and dst not in ("Ground", "Domain"):
                found.append(f"{where}: Domain imports only Ground")
            elif src == "Ground" and dst != "Ground":
                found.append(f"{where}: Ground imports nothing of labline above it")
            elif src == "Contracts" and dst in (
                "Backends",
                "Wiring",
                "Services",
                "Runtime",
                "Edges",
            ):
                found.append(f"{where}: Contracts never import Backends or Services")
            elif src == "Backends" and dst in ("Wiring", "Services", "Runtime", "Edges"):
                found.append(f"{where}: Backends never import Services, Runtime or Edges")
            elif src == "Wiring" and dst in ("Services", "Runtime", "Edges"):
                found.append(f"{where}: Wiring never imports Services")
            elif src == "Services" and dst == "Backends":
                found.append(f"{where}: Services reach Backends only through Wiring")
            elif src == "Services" and dst in ("Runtime", "Edges"):
                found.append(f"{where}: Services never import Runtime or Edges")
            elif src in ("Runtime", "Edges") and dst in ("Contracts", "Backends", "Wiring"):
                found.append(f"{where}: {src} never imports Contracts or Backends")
            elif src == "Runtime" and dst == "Edges":
                found.append(f"{where}: Runtime never imports Edges")
            elif (
                src == "Runtime"
                and dst == "Services"
                and not _is_public(imp.imported)
                and not imp.typing_only
            ):
                found.append(f"{where}: Runtime uses Client and the public API")
            elif (
                src == "Edges"
                and not _is_public(imp.imported)
                and not imp.typing_only
                and dst != "Edges"
                and imp.imported != "labline._http_errors"  # the one table servers share
            ):
                found.append(f"{where}: Edges use only Client and the public names")
            head_src = imp.importer.split(".")[1:2]
            head_dst = imp.imported.split(".")[1:2]
            if {*head_src, *head_dst} == {"server", "serving"}:
                found.append(f"{where}: server/ and serving/ never import each other")
        for access in _store_accesses(root, path):
            if part_of(access.module) in ("Runtime", "Edges"):
                found.append(
                    f"{access.module}:{access.line} touches .store: entry points go through Client"
                )
    return found


def test_the_package_keeps_every_never() -> None:
    assert offences(ROOT) == []


def test_every_module_belongs_to_a_part() -> None:
    for path in ROOT.rglob("*.py"):
        assert part_of(_module_name(ROOT, path)) in PARTS, path


@pytest.mark.parametrize(
    ("module", "source", "never"),
    [
        ("core/_bad.py", "from ..store.sql import SQLStore", "Domain imports only Ground"),
        ("core/_bad.py", "import sqlalchemy", "Domain uses no I/O framework"),
        ("_bad_service.py", "from .store.sql._store import SQLStore", "only through Wiring"),
        ("_bad_service.py", "from .cli import main", "Services never import Runtime or Edges"),
        ("store/_bad_base.py", "from .sql import SQLStore", "Contracts never import Backends"),
        ("store/sql/_bad.py", "from ..._client import Client", "Backends never import Services"),
        ("cli/_bad.py", "from .._client import Client", "Edges use only Client and the public"),
        ("cli/_bad.py", "from ..store import open_store", "never imports Contracts or Backends"),
        ("serving/_bad.py", "from ..cli import main", "Runtime never imports Edges"),
        ("serving/_bad.py", "from .._client import Client", "Runtime uses Client and the public"),
        ("cli/_bad.py", "def f(client):\n    return client.store", "touches .store"),
    ],
)
def test_a_temporary_module_breaking_a_never_is_reported(
    tmp_path: Path, module: str, source: str, never: str
) -> None:
    root = tmp_path / "labline"
    for sub in ("", "core", "store", "store/sql", "cli", "serving"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub / "__init__.py").write_text("")
    for name in ("_client.py", "cli/__init__.py", "store/sql/_store.py", "store/_factory.py"):
        (root / name).write_text("")
    (root / module).write_text(textwrap.dedent(source) + "\n")
    found = offences(root)
    assert len(found) == 1 and never in found[0], found


def _runtime_edges(root: Path) -> dict[str, set[str]]:
    """Module → labline modules it imports at run time (``if TYPE_CHECKING`` blocks aside)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
        import_ids: dict[int, set[int]] = {}  # line -> the import statements on it
        for n in ast.walk(tree):
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                import_ids.setdefault(n.lineno, set()).add(id(n))
        module = _module_name(root, path)
        graph[module] = set()
        for imp in _imports(root, path):
            if (
                imp.imported.startswith("labline.")
                and imp.imported != module
                and not import_ids.get(imp.line, set()) <= typing_only
            ):
                graph[module].add(imp.imported)
    return graph


def test_no_import_circles_between_modules() -> None:
    graph = _runtime_edges(ROOT)
    state: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if n not in graph:
                continue
            if state.get(n) == 1:
                circles.append(" -> ".join([*stack[stack.index(n) :], n]))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert circles == []
