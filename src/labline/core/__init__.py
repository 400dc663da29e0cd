"""Core: the domain. Frozen records, the grammars, statistics, hashing, fingerprints and the
predictions file format. Pure: imports nothing of labline but the ground (exceptions), and no
I/O framework (no SQLAlchemy, no web server, no CLI toolkit)."""

from ._json import to_jsonable as to_jsonable
from ._review import ReviewDecision as ReviewDecision
from ._review import ReviewItem as ReviewItem
from ._review import ReviewItemDraft as ReviewItemDraft
from ._run_query import Field as Field
from ._run_query import FieldKind as FieldKind

__all__ = ["Field", "FieldKind", "ReviewDecision", "ReviewItem", "ReviewItemDraft", "to_jsonable"]
