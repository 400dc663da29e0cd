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
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Hypothesis", "HypothesisStatus", "HypothesisStoreBase"]


class HypothesisStatus(enum.StrEnum):
    """Life cycle: waiting for runs → evaluated (supported, refuted or inconclusive)."""

    WAITING = "waiting for runs"
    SUPPORTED = "evaluated: supported"
    REFUTED = "evaluated: refuted"
    INCONCLUSIVE = "evaluated: inconclusive"

    @property
    def evaluated(self) -> bool:
        """Whether the hypothesis has been evaluated (and is therefore immutable)."""
        return self is not HypothesisStatus.WAITING


@dataclass(frozen=True)
class Hypothesis:
    """A hypothesis registered before its results.

    Attributes:
        id: store-assigned number.
        statement: the claim in words ("the CNN beats logistic regression by 1 point").
        baseline, candidate: run selectors (``digits:model=logreg`` or run ids).
        metric: metric name.
        dataset: data set the predictions must be on, or ``None`` for the only common one.
        min_effect: smallest improvement that counts (metric units, in the metric's better
            direction).
        alpha: significance level.
        seeds: runs needed in each group before it is evaluated.
        created_at: registration time (UTC).
        status: see :class:`HypothesisStatus`.
        evaluated_at: when it was evaluated, or ``None``.
        result: the frozen evaluation (estimate, interval, p-value, verdict, run ids, ...).
        supersedes: id of the hypothesis this one replaces, or ``None``.
        seed: the random seed of its evaluation (fixed at registration); with the selectors,
            metric, data set and alpha it reproduces the recorded p-value through
            ``labline compare ... --seed``.
    """

    id: int
    statement: str
    baseline: str
    candidate: str
    metric: str
    dataset: str | None
    min_effect: float
    alpha: float
    seeds: int
    created_at: datetime
    status: HypothesisStatus
    evaluated_at: datetime | None = None
    result: Mapping[str, Any] = field(default_factory=dict)
    supersedes: int | None = None
    seed: int | None = None

    @property
    def evaluation_seed(self) -> int:
        """The seed it is (or was) evaluated with: the stored one, else its id."""
        return self.id if self.seed is None else self.seed


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
    ) -> Hypothesis:
        """Register a hypothesis (status ``waiting for runs``).

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
