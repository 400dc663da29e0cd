"""Hypotheses registered before their results, evaluated once when the runs have arrived.

``add_hypothesis`` records the claim, the two run selectors, the metric, the minimum effect
and alpha. ``list_hypotheses``/``get_hypothesis`` refresh every hypothesis still waiting: when
each group holds the required number of finished runs with predictions, it is evaluated with
:func:`labline.compare` and the outcome is frozen. ``revise_hypothesis`` registers a new
hypothesis that supersedes an old one (the old one stays visible).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._compare import compare_runs, parse_selector, select_runs
from ._exceptions import ImmutableError, InvalidArgumentError
from .core import stats
from .core.stats import Verdict
from .store._hypotheses_base import Hypothesis, HypothesisStatus

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "HypothesisProgress",
    "add_hypothesis",
    "evaluate_hypothesis",
    "get_hypothesis",
    "hypothesis_progress",
    "list_hypotheses",
    "revise_hypothesis",
]


def add_hypothesis(
    client: Client,
    statement: str,
    *,
    baseline: str,
    candidate: str,
    metric: str,
    min_effect: float,
    alpha: float = 0.05,
    dataset: str | None = None,
    seeds: int = 1,
    supersedes: int | None = None,
) -> Hypothesis:
    """Register a hypothesis before its runs exist (or before anyone looks at them).

    Args:
        client: the store to register it in.
        statement: the claim in words.
        baseline: baseline run selector (``digits:model=logreg``).
        candidate: candidate run selector.
        metric: metric name (``accuracy``, ``macro_f1``, ``auc``, ...).
        min_effect: smallest improvement that counts, metric units, >= 0.
        alpha: significance level.
        dataset: data set of the predictions (default: the only one the runs share).
        seeds: finished runs needed in each group before it is evaluated.
        supersedes: id of a hypothesis this one replaces.

    Returns:
        The new :class:`Hypothesis`, status ``waiting for runs``.

    Raises:
        InvalidArgumentError: a bad selector, metric, alpha, min_effect or seeds.
        NotFoundError: ``supersedes`` names no hypothesis.
    """
    parse_selector(baseline)
    parse_selector(candidate)
    name = stats.get_metric(metric).name
    return client.store.add_hypothesis(
        statement=statement,
        baseline=baseline,
        candidate=candidate,
        metric=name,
        dataset=dataset,
        min_effect=min_effect,
        alpha=alpha,
        seeds=seeds,
        supersedes=supersedes,
    )


def revise_hypothesis(
    client: Client,
    hypothesis_id: int,
    *,
    statement: str | None = None,
    metric: str | None = None,
    min_effect: float | None = None,
    alpha: float | None = None,
    seeds: int | None = None,
) -> Hypothesis:
    """Register a changed copy of a hypothesis that supersedes it; the old one is kept as is.

    Raises:
        NotFoundError: no such hypothesis.
        InvalidArgumentError: nothing would change, or a new value is invalid.
    """
    c = client
    old = c.store.get_hypothesis(hypothesis_id)
    new_statement = old.statement if statement is None else statement
    new_metric = old.metric if metric is None else stats.get_metric(metric).name
    # the store checks types and ranges (naming the field); no casts here that could raise
    new_min_effect = old.min_effect if min_effect is None else min_effect
    new_alpha = old.alpha if alpha is None else alpha
    new_seeds = old.seeds if seeds is None else seeds
    if (new_statement, new_metric, new_min_effect, new_alpha, new_seeds) == (
        old.statement,
        old.metric,
        old.min_effect,
        old.alpha,
        old.seeds,
    ):
        raise InvalidArgumentError(
            "revise_hypothesis: nothing to change (give metric, min_effect, alpha, seeds or statement)"
        )
    return c.store.add_hypothesis(
        statement=new_statement,
        baseline=old.baseline,
        candidate=old.candidate,
        metric=new_metric,
        dataset=old.dataset,
        min_effect=new_min_effect,
        alpha=new_alpha,
        seeds=new_seeds,
        supersedes=old.id,
    )


@dataclass(frozen=True)
class HypothesisProgress:
    """How far a waiting hypothesis is from evaluation.

    Attributes:
        baseline_runs, candidate_runs: finished runs each selector matches now.
        needed: runs needed per group.
        problem: why it cannot be evaluated yet although runs exist (e.g. unpairable data), or ``None``.
    """

    baseline_runs: int
    candidate_runs: int
    needed: int
    problem: str | None = None

    def __str__(self) -> str:
        text = f"baseline {self.baseline_runs}/{self.needed} runs, candidate {self.candidate_runs}/{self.needed} runs"
        return text + ("" if self.problem is None else f"; {self.problem}")


def hypothesis_progress(client: Client, hypothesis: Hypothesis) -> HypothesisProgress:
    """Count the finished runs each selector of a hypothesis matches now."""
    c = client
    counts = []
    for text in (hypothesis.baseline, hypothesis.candidate):
        try:
            counts.append(len(select_runs(c, parse_selector(text))))
        except (KeyError, InvalidArgumentError):  # an experiment that does not exist yet
            counts.append(0)
    problem = None
    if not hypothesis.status.evaluated and min(counts) >= hypothesis.seeds:
        try:  # enough runs but still waiting: say what stops the evaluation (a cheap dry run)
            compare_runs(
                c,
                hypothesis.baseline,
                hypothesis.candidate,
                hypothesis.metric,
                dataset=hypothesis.dataset,
                alpha=hypothesis.alpha,
                n_resamples=20,
            )
        except InvalidArgumentError as e:
            problem = str(e)
    return HypothesisProgress(counts[0], counts[1], hypothesis.seeds, problem)


def _outcome(analysis: stats.DifferenceAnalysis, min_effect: float) -> tuple[HypothesisStatus, str]:
    # the minimum effect is an improvement (direction-adjusted), so the outcome speaks of
    # improvements only, each with its whole interval
    improvement = analysis.improvement
    low, upper = analysis.improvement_ci
    interval = f"improvement {improvement:+.4g} [{low:+.4g}, {upper:+.4g}]"
    if analysis.verdict is Verdict.BETTER and improvement >= min_effect:
        return HypothesisStatus.SUPPORTED, (
            f"better: {interval} (>= the minimum effect {min_effect:g}), p = {analysis.p_value:.4g}"
        )
    if analysis.verdict in (Verdict.WORSE, Verdict.EQUIVALENT):
        return HypothesisStatus.REFUTED, f"verdict '{analysis.verdict_text}': {interval}"
    if upper < min_effect:
        return HypothesisStatus.REFUTED, (
            f"{interval}: the {analysis.confidence:.0%} interval ends below the minimum effect "
            f"{min_effect:g}"
        )
    return HypothesisStatus.INCONCLUSIVE, (
        f"verdict '{analysis.verdict_text}', {interval}: the minimum effect {min_effect:g} "
        "is neither shown nor ruled out"
    )


def _refresh(c: Client, h: Hypothesis) -> Hypothesis:
    if h.status.evaluated:
        return h
    progress = hypothesis_progress(c, h)
    if min(progress.baseline_runs, progress.candidate_runs) < h.seeds:
        return h
    try:
        report = compare_runs(
            c,
            h.baseline,
            h.candidate,
            h.metric,
            dataset=h.dataset,
            alpha=h.alpha,
            seed=h.evaluation_seed,
        )
    except InvalidArgumentError:
        return h  # e.g. predictions not logged yet or not pairable: stays waiting (see progress)
    comp = report.comparisons[0]
    status, reason = _outcome(comp.analysis, h.min_effect)
    runs = {r: c.get_run(r) for r in (*report.baseline_runs, *comp.candidate_runs)}
    preregistered = all(run.created_at >= h.created_at for run in runs.values())
    result = report.to_dict()
    result["outcome_reason"] = reason
    result["preregistered"] = preregistered
    try:
        return c.store.record_hypothesis_result(h.id, status, result)
    except ImmutableError:  # evaluated concurrently by another process: theirs stands
        return c.store.get_hypothesis(h.id)


def evaluate_hypothesis(client: Client, hypothesis_id: int) -> Hypothesis:
    """Evaluate a waiting hypothesis if its runs have arrived; an evaluated one is returned as is.

    Raises:
        NotFoundError: no such hypothesis.
    """
    return _refresh(client, client.store.get_hypothesis(hypothesis_id))


def get_hypothesis(client: Client, hypothesis_id: int, *, refresh: bool = True) -> Hypothesis:
    """One hypothesis; with ``refresh`` a waiting one is evaluated if its runs have arrived.

    Raises:
        NotFoundError: no such hypothesis.
    """
    h = client.store.get_hypothesis(hypothesis_id)
    return _refresh(client, h) if refresh else h


def list_hypotheses(client: Client, *, refresh: bool = True) -> list[Hypothesis]:
    """Every hypothesis, oldest first, superseded ones included; waiting ones are refreshed."""
    items = client.store.list_hypotheses()
    return [_refresh(client, h) for h in items] if refresh else items
