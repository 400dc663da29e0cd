"""Store contract for the model registry (filled in by the registry work)."""

from __future__ import annotations


class RegistryStoreBase:
    """Abstract registry-store methods; see the registry service for their use."""
