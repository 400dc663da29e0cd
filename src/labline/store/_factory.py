"""Wiring: the metadata store and the blob store a :class:`~labline._settings.Settings` points at."""

from __future__ import annotations

from .._exceptions import InvalidArgumentError
from .._settings import Settings
from ..artifacts import BlobStore
from ._base import MetadataStore


def open_store(settings: Settings) -> MetadataStore:
    """Return the store for ``settings.uri`` (``sqlite:///...``, ``postgresql+psycopg://...``
    or ``http(s)://host:port``: a ``labline server``, with ``settings.token``).

    Raises:
        InvalidArgumentError: the URI scheme is not supported.
        SchemaVersionError: the database was written by a newer labline.
    """
    scheme = settings.uri.split(":", 1)[0]
    if settings.is_remote:
        from .http import HttpStore

        return HttpStore(settings.uri, settings.token)
    if scheme == "sqlite" or scheme.startswith("postgresql"):
        from .sql import SQLStore

        return SQLStore(settings.uri)
    raise InvalidArgumentError(
        f"LABLINE_URI scheme {scheme!r} is not supported; use sqlite:///path, postgresql+psycopg://... or http://host:port (labline server)"
    )


def open_blobs(settings: Settings, store: MetadataStore | None = None) -> BlobStore:
    """Return the blob store at ``settings.artifact_uri`` (a local folder or an fsspec URL),
    or, for a ``labline server``, its blobs (through ``store``'s connection when given)."""
    if settings.is_remote:
        from .http import HttpBlobStore, HttpStore

        if isinstance(store, HttpStore):
            return HttpBlobStore(store.http)
        return HttpBlobStore(HttpStore(settings.uri, settings.token).http)
    return BlobStore(settings.artifact_uri)
