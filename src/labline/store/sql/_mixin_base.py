"""What every SQLStore mixin may rely on (for the type checker and for readers)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from sqlalchemy.orm import Session


class SQLMixinBase:
    """Attributes and the session scope that :class:`SQLStore` provides to its mixins."""

    dialect: str
    stale_after: float

    def _session(self, *, write: bool = False) -> contextlib.AbstractContextManager[Session]:
        raise NotImplementedError


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes: read them as the UTC they were written in."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
