"""Lazy import of optional dependencies with a message naming the extra to install, and the
one importer of user code named ``package.module:attribute`` (metrics, sweep objectives)."""

from __future__ import annotations

import importlib
from types import ModuleType

from ._exceptions import InvalidArgumentError, MissingDependencyError


def import_optional(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install 'labline[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"{module!r} is required for this feature; install it with: pip install 'labline[{extra}]'"
        ) from e


def import_attribute(module_name: str, attribute: str, what: str, hint: str = "") -> object:
    """Import ``module_name`` and return its (dotted) ``attribute``: user code named
    ``package.module:attribute``.

    Args:
        module_name, attribute: the two sides of the ``:``.
        what: how messages name the reference (``metric 'pkg.mod:f'``).
        hint: added to the message when the module cannot be imported.

    Raises:
        InvalidArgumentError: the module cannot be imported, raised while importing, or has
            no such attribute (the message names ``what``, never the module's own error text).
    """
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as e:
        raise InvalidArgumentError(f"{what}: cannot import {module_name!r}{hint}") from e
    except Exception as e:  # the module's own code failed while importing
        raise InvalidArgumentError(
            f"{what}: importing {module_name!r} raised {type(e).__name__}"
        ) from e
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise InvalidArgumentError(
                f"{what}: {module_name!r} has no attribute {attribute!r}"
            ) from None
    return found
