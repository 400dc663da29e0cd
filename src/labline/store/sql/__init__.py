"""SQLAlchemy 2 backend of the metadata store (SQLite, PostgreSQL)."""

from ._store import SQLStore as SQLStore

__all__ = ["SQLStore"]
