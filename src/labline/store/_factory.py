"""Wiring: the metadata store and the blob store a :class:`~labline._settings.Settings` points at."""

from __future__ import annotations

from .._exceptions import InvalidArgumentError
from .._settings import Settings
from ..artifacts import BlobStore
from ._base import MetadataStore


def open_store(settings: Settings) -> MetadataStore:
    """Return the store for ``settings.uri`` (``sqlite:///...`` or ``postgresql+psycopg://...``).

    Raises:
        InvalidArgumentError: the URI scheme is not supported.
        SchemaVersionError: the database was written by a newer labline.
    """
    scheme = settings.uri.split(":", 1)[0]
    if scheme == "sqlite" or scheme.startswith("postgresql"):
        from .sql import SQLStore

        return SQLStore(settings.uri)
    raise InvalidArgumentError(
        f"LABLINE_URI scheme {scheme!r} is not supported; use sqlite:///path or postgresql+psycopg://..."
    )


def open_blobs(settings: Settings) -> BlobStore:
    """Return the blob store at ``settings.artifact_uri`` (a local folder or an fsspec URL)."""
    return BlobStore(settings.artifact_uri)
