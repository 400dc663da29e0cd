"""Core: the domain. Frozen records, the grammars, statistics, hashing, fingerprints and the
predictions file format. Pure: imports nothing of labline but the ground (exceptions), and no
I/O framework (no SQLAlchemy, no web server, no CLI toolkit)."""

from ._json import to_jsonable as to_jsonable

__all__ = ["to_jsonable"]
