"""SQL implementation of the registry store (mixin of SQLStore)."""

from __future__ import annotations


class RegistrySQLMixin:
    """Registry-store methods implemented with SQLAlchemy."""
