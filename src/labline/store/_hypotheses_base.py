"""Store contract for pre-registered hypotheses (filled in by the comparison work)."""

from __future__ import annotations


class HypothesisStoreBase:
    """Abstract hypothesis-store methods; see the comparison service for their use."""
