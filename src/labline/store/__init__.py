"""Metadata stores: one contract (:class:`MetadataStore`), SQL backends (SQLite, PostgreSQL)."""

from ._base import MetadataStore as MetadataStore
from ._factory import open_store as open_store

__all__ = ["MetadataStore", "open_store"]
