"""SQL implementation of the hypothesis store (mixin of SQLStore)."""

from __future__ import annotations


class HypothesisSQLMixin:
    """Hypothesis-store methods implemented with SQLAlchemy."""
