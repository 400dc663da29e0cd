"""Store contract for pre-registered hypotheses.

A hypothesis is written before the runs that test it exist (or before anyone looks at them):
its statement, the baseline and candidate run selectors, the metric, the minimum effect and the
significance level. It waits until enough runs have arrived, is then evaluated once, and from
that moment it is immutable. Changing the metric or the threshold afterwards means registering
a new hypothesis that ``supersedes`` the old one; both stay visible.

Contract (in addition to :class:`~labline.store.MetadataStore`'s):
    * ``add_hypothesis`` never changes an existing hypothesis; ``supersedes`` must name one that
      exists (NotFoundError otherwise).
    * ``record_hypothesis_result`` succeeds at most once per hypothesis, also under concurrent
      callers: every later call raises :class:`~labline.ImmutableError`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from ..core._types import Hypothesis, HypothesisStatus

__all__ = ["HypothesisStoreBase"]


class HypothesisStoreBase(abc.ABC):
    """Abstract hypothesis-store methods; see the module docstring for the contract."""

    @abc.abstractmethod
    def add_hypothesis(
        self,
        *,
        statement: str,
        baseline: str,
        candidate: str,
        metric: str,
        dataset: str | None,
        min_effect: float,
        alpha: float,
        seeds: int,
        supersedes: int | None = None,
        created_by: str = "",
    ) -> Hypothesis:
        """Register a hypothesis (status ``waiting for runs``), recording who registered it.

        Raises:
            InvalidArgumentError: an empty statement/selector/metric, alpha outside (0, 1),
                min_effect < 0 or seeds < 1.
            NotFoundError: ``supersedes`` names no hypothesis.
        """

    @abc.abstractmethod
    def get_hypothesis(self, hypothesis_id: int) -> Hypothesis:
        """One hypothesis. Raises NotFoundError."""

    @abc.abstractmethod
    def list_hypotheses(self) -> list[Hypothesis]:
        """Every hypothesis, oldest first (superseded ones included)."""

    @abc.abstractmethod
    def record_hypothesis_result(
        self, hypothesis_id: int, status: HypothesisStatus, result: Mapping[str, Any]
    ) -> Hypothesis:
        """Store the evaluation, once.

        Raises:
            NotFoundError: no such hypothesis.
            InvalidArgumentError: ``status`` is ``waiting for runs``.
            ImmutableError: it was already evaluated.
        """
