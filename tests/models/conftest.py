"""Fixtures for model package tests: researcher-style model modules written to a temp folder."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture
def make_module(tmp_path: Path) -> Iterator[Callable[[str], ModuleType]]:
    """Write ``source`` as a fresh, uniquely named module on sys.path and import it."""
    src_dir = tmp_path / "researcher_src"
    src_dir.mkdir()
    sys.path.insert(0, str(src_dir))
    names: list[str] = []

    def make(source: str, name: str | None = None) -> ModuleType:
        name = name or f"usermodel_{uuid.uuid4().hex[:8]}"
        (src_dir / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        names.append(name)
        return importlib.import_module(name)

    make.dir = src_dir  # type: ignore[attr-defined]
    yield make
    sys.path.remove(str(src_dir))
    for n in names:
        sys.modules.pop(n, None)
