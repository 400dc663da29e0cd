"""Layers point down: core → store/artifacts → service API → cli/serving (STYLE.md §2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import labline

ROOT = Path(labline.__file__).parent


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against the package)."""
    pkg = ".".join(("labline", *path.relative_to(ROOT).with_suffix("").parts))
    if path.name == "__init__.py":
        pkg = pkg.removesuffix(".__init__") + ".__init__"
    base = pkg.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[: len(base) - node.level + 1]
                mod = ".".join(parent + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def _files(sub: str) -> list[Path]:
    return sorted((ROOT / sub).rglob("*.py")) if (ROOT / sub).is_dir() else [ROOT / sub]


FORBIDDEN = {
    # layer: what it must not import
    "core": (
        "sqlalchemy",
        "alembic",
        "fastapi",
        "starlette",
        "uvicorn",
        "labline.store",
        "labline.artifacts",
        "labline._client",
        "labline._tracking",
        "labline.cli",
        "labline.serving",
        "labline.models",
    ),
    "store": (
        "fastapi",
        "starlette",
        "uvicorn",
        "labline._client",
        "labline._tracking",
        "labline.cli",
        "labline.serving",
        "labline.models",
        "labline._compare",
    ),
    "artifacts": ("sqlalchemy", "fastapi", "labline.store", "labline.cli", "labline.serving"),
    "_tracking.py": ("sqlalchemy", "fastapi", "labline.cli", "labline.serving"),
    "_client.py": ("sqlalchemy", "fastapi", "labline.cli", "labline.serving"),
    "_compare.py": ("sqlalchemy", "fastapi", "labline.cli", "labline.serving"),
    "_hypotheses.py": ("sqlalchemy", "fastapi", "labline.cli", "labline.serving"),
    "models": ("fastapi", "starlette", "labline.cli", "labline.serving"),
    "serving": ("sqlalchemy", "labline.cli", "labline.store", "labline.server"),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_down(layer: str) -> None:
    offences = []
    for path in _files(layer):
        if "migrations" in path.parts:
            continue
        for mod in _imports(path):
            for bad in FORBIDDEN[layer]:
                if mod == bad or mod.startswith(bad + "."):
                    offences.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not offences, "\n".join(sorted(set(offences)))
