"""Lazy import of optional dependencies with a message naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from ._exceptions import MissingDependencyError


def import_optional(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install 'labline[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"{module!r} is required for this feature; install it with: pip install 'labline[{extra}]'"
        ) from e
