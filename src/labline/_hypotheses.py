"""Hypotheses registered before their results, evaluated once when the runs have arrived.

``add_hypothesis`` records the claim, the two run selectors, the metric, the minimum effect
and alpha. Evaluation is an explicit step, never a side effect of reading: ``evaluate_hypothesis``
(``labline hypothesis evaluate``) and a ``compare`` of exactly a waiting hypothesis's groups
evaluate it once each group holds the required number of finished runs with predictions, and
the outcome is frozen. ``revise_hypothesis`` registers a new hypothesis that supersedes an old
one (the old one stays visible).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._compare import PredictionSets, compare_runs, select_runs
from ._exceptions import ImmutableError, InvalidArgumentError
from ._metric_loading import resolve_metric
from .core import stats
from .core._grammar import parse_selector
from .core._metric_refs import parse_metric_reference
from .core._types import Hypothesis, HypothesisProgress, HypothesisStatus
from .core.stats import Verdict

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "HypothesisProgress",
    "add_hypothesis",
    "canonical_metric",
    "evaluate_hypotheses",
    "evaluate_hypothesis",
    "evaluate_matching",
    "get_hypothesis",
    "hypothesis_progress",
    "list_hypotheses",
    "revise_hypothesis",
]


def canonical_metric(metric: str) -> str:
    """The spelling a hypothesis stores for ``metric``: any reference ``compare -m`` accepts.

    A built-in metric is stored under its canonical name (``acc`` → ``accuracy``), a logged one
    as ``key`` or ``key:min``/``key:max`` (``:last`` is the default and dropped), an import path
    or an entry-point name as written. The reference is resolved once here, so a metric that
    cannot be imported or loaded is refused when the hypothesis is registered, not later.

    Raises:
        InvalidArgumentError: a malformed reference, or one that fails to import or load.
    """
    resolved = resolve_metric(metric)
    ref = parse_metric_reference(metric)
    if ref.builtin is not None:
        return ref.builtin
    if ref.import_path is not None or resolved.per_example is not None:
        return ref.text  # package.module:function, or a labline.metrics entry point
    assert resolved.logged is not None
    return resolved.logged.name


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
        metric: any metric ``compare`` accepts: a built-in name (``accuracy``, ``auc``, ...),
            a logged metric (``val_accuracy``, ``val_loss:min``), ``package.module:function``
            or a ``labline.metrics`` entry point.
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
    name = canonical_metric(metric)
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
        created_by=client.actor,
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
    new_metric = old.metric if metric is None else canonical_metric(metric)
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
        created_by=c.actor,
    )


def hypothesis_progress(client: Client, hypothesis: Hypothesis) -> HypothesisProgress:
    """Count the finished runs each selector of a hypothesis matches now."""
    c = client
    counts = [_runs_found(c, hypothesis.baseline), _runs_found(c, hypothesis.candidate)]
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


def _runs_found(client: Client, selector: str) -> int:
    try:
        return len(select_runs(client, parse_selector(selector)))
    except (KeyError, InvalidArgumentError):  # an experiment that does not exist yet
        return 0


def _evaluate(c: Client, h: Hypothesis, loaded: PredictionSets | None = None) -> Hypothesis:
    """Evaluate ``h`` if it waits and its runs have arrived; record the outcome once.
    ``loaded``: prediction sets a comparison has already read."""
    if h.status.evaluated:
        return h
    if min(_runs_found(c, h.baseline), _runs_found(c, h.candidate)) < h.seeds:
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
            loaded_predictions=loaded,
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
    return _evaluate(client, client.store.get_hypothesis(hypothesis_id))


def evaluate_hypotheses(client: Client) -> list[Hypothesis]:
    """Evaluate every waiting hypothesis whose runs have arrived; return them all, oldest first."""
    return [_evaluate(client, h) for h in client.store.list_hypotheses()]


def matching_hypotheses(
    client: Client,
    baseline: str,
    candidates: Sequence[str],
    metric: str,
    dataset: str,
) -> list[Hypothesis]:
    """The hypotheses (evaluated or waiting) about this comparison: same baseline group, a
    candidate group among ``candidates``, the same metric and a data set that agrees.
    Reads only."""
    base = parse_selector(baseline)
    cands = {parse_selector(c) for c in candidates}
    found = []
    for h in client.store.list_hypotheses():
        # ``metric`` is the report's canonical name, as a hypothesis stores it
        if h.metric != metric or h.dataset not in (None, dataset or None):
            continue
        try:
            same_groups = (
                parse_selector(h.baseline) == base and parse_selector(h.candidate) in cands
            )
        except InvalidArgumentError:  # stored before the grammar read it this way: not this one
            continue
        if same_groups:  # selectors compare by what they select, not by their spelling
            found.append(h)
    return found


def evaluate_matching(
    client: Client,
    baseline: str,
    candidates: Sequence[str],
    metric: str,
    dataset: str,
    loaded: PredictionSets | None = None,
) -> list[Hypothesis]:
    """Evaluate the waiting hypotheses a comparison just answered (see
    :func:`matching_hypotheses`).

    Args:
        metric: the comparison's metric as :func:`canonical_metric` spells it.

    Returns:
        The hypotheses that were evaluated now.
    """
    done = []
    for h in matching_hypotheses(client, baseline, candidates, metric, dataset):
        if h.status.evaluated:
            continue
        evaluated = _evaluate(client, h, loaded)
        if evaluated.status.evaluated:
            done.append(evaluated)
    return done


def get_hypothesis(client: Client, hypothesis_id: int) -> Hypothesis:
    """One hypothesis as stored (reading never evaluates; see :func:`evaluate_hypothesis`).

    Raises:
        NotFoundError: no such hypothesis.
    """
    return client.store.get_hypothesis(hypothesis_id)


def list_hypotheses(client: Client) -> list[Hypothesis]:
    """Every hypothesis as stored, oldest first, superseded ones included."""
    return client.store.list_hypotheses()
