"""Metadata stores: one contract (:class:`MetadataStore`), SQL backends (SQLite, PostgreSQL),
and the wiring that turns settings into a store and its blob store."""

from ..artifacts import BlobStore as BlobStore
from ._base import MetadataStore as MetadataStore
from ._factory import open_blobs as open_blobs
from ._factory import open_store as open_store

__all__ = ["BlobStore", "MetadataStore", "open_blobs", "open_store"]
