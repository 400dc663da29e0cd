"""Content-addressed artifact storage (local folder or any fsspec URL)."""

from ._blobstore import BlobStore as BlobStore

__all__ = ["BlobStore"]
