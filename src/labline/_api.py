"""Module-level functions: each is a thin wrapper over a :class:`Client` method.

``labline.start_run(...)`` is ``default_client(settings).start_run(...)``: the default client
is made once per settings (from the environment when none are given) and kept open. Pass
``client=`` to use a client of your own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._client import Client, default_client
from ._settings import Settings

if TYPE_CHECKING:
    from ._compare import ComparisonReport
    from ._tracking import ActiveRun
    from .core._calibration import Calibration
    from .core._types import Hypothesis
    from .core.stats import Metric

__all__ = [
    "add_hypothesis",
    "calibrate",
    "compare",
    "evaluate_hypothesis",
    "get_hypothesis",
    "list_hypotheses",
    "revise_hypothesis",
    "start_run",
]


def _use(settings: Settings | None, client: Client | None) -> Client:
    return client or default_client(settings)


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    *,
    run_id: str | None = None,
    parent: Any = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    client: Client | None = None,
    capture_env: bool = True,
    flush_interval: float = 1.0,
) -> ActiveRun:
    """Start a run and return it; use it as a context manager or call ``end()``.

    Args:
        experiment: experiment name (created if new; ``"default"`` when omitted).
        name: run name (default: ``run-<first 8 characters of the run id>``).
        run_id: resume this run instead (see :meth:`Client.start_run`).
        parent: start a child of this run (a run or a run reference).
        params: write-once params to record now.
        tags: tags to set now.
        settings: where to store it (``LABLINE_HOME``/``LABLINE_URI`` from the environment by default).
        client: an open client (overrides ``settings``).
        capture_env: record git commit and dirtiness, Python, packages, command line, host.
        flush_interval: seconds between background metric writes (at most 1 s by default).

    Returns:
        The :class:`ActiveRun`.

    Raises:
        InvalidArgumentError: a name, key or value is invalid.
        StorageError: the store cannot be reached.
    """
    return _use(settings, client).start_run(
        experiment,
        name,
        run_id=run_id,
        parent=parent,
        params=params,
        tags=tags,
        capture_env=capture_env,
        flush_interval=flush_interval,
    )


def compare(
    baseline: str,
    candidate: str | Sequence[str],
    metric: str | Metric,
    *,
    dataset: str | None = None,
    higher_is_better: bool | None = None,
    alpha: float = 0.05,
    margin: float | None = None,
    min_effect: float | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
    settings: Settings | None = None,
    client: Client | None = None,
) -> ComparisonReport:
    """Compare candidate run groups with a baseline group on any metric, with paired statistics.

    **Per-example metrics** (built in: ``accuracy``, ``macro_f1``, ``auc``, ``log_loss``,
    ``mae``, ``mse``, ``rmse``; or your own :class:`labline.Metric`): runs that logged
    per-example predictions on the same data set (same fingerprint, same example ids) are
    compared example by example. With one run per group the analysis is paired per example
    (bootstrap interval, McNemar's exact test for accuracy, a paired permutation test
    otherwise); with several runs (seeds) in a group, a two-level bootstrap over seeds and
    examples and the probability of improvement. A custom metric's function is recomputed on
    every resample.

    **Logged metrics** (any key given to ``log_metric``: ``val_accuracy`` uses each run's last
    value, ``val_accuracy:max`` / ``val_loss:min`` its best): a run-level comparison, runs are
    the units — paired by seed when both groups ran the same ``seed`` params, otherwise a
    bootstrap and a permutation test over runs, with Welch's t-test as a cross-check; the
    report says so and states the power caveat when there are few runs. A built-in metric
    falls back to this when the runs share no predictions. Several candidates are
    Holm–Bonferroni corrected.

    Args:
        baseline: run selector, e.g. ``"digits:model=logreg"`` or ``"runs:<id>,<id>"``.
        candidate: one selector or a list of them.
        metric: a built-in name, a logged metric ``key[:last|min|max]``,
            ``"package.module:function"``, a name registered under the ``labline.metrics``
            entry-point group, or a :class:`labline.Metric`.
        dataset: the data set the predictions are on (default: the only one all runs share).
        higher_is_better: direction of improvement; default: the metric's own, or for a name
            the one it implies (lower for ``loss``, ``error``, ``mae``, ``mse``, ``rmse``, ...).
        alpha: significance level.
        margin: equivalence margin ε in metric units; enables ``equivalent within ±ε``.
        min_effect: smallest difference of interest, for the seeds-needed estimate.
        n_resamples: bootstrap (and permutation) resamples.
        seed: random seed; the same inputs and seed give the same report.
        settings: where the store lives (default: from the environment).
        client: an open client (overrides ``settings``).

    Returns:
        The :class:`ComparisonReport` (print it, ``.to_json()``, or display it in a notebook).

    Raises:
        InvalidArgumentError: a bad selector or metric, a group without finished runs, runs
            that share no data set, predictions that cannot be paired, a run without the
            logged metric, or a custom metric that fails its first use (the message says which).
        NotFoundError: an experiment or run id does not exist.

    Example:
        >>> report = labline.compare("digits:model=logreg", "digits:model=cnn", "accuracy")  # doctest: +SKIP
        >>> report = labline.compare("mnist:model=a", "mnist:model=b", "val_loss:min")  # doctest: +SKIP
        >>> print(report)  # doctest: +SKIP
    """
    return _use(settings, client).compare(
        baseline,
        candidate,
        metric,
        dataset=dataset,
        higher_is_better=higher_is_better,
        alpha=alpha,
        margin=margin,
        min_effect=min_effect,
        n_resamples=n_resamples,
        seed=seed,
    )


def add_hypothesis(
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
    settings: Settings | None = None,
    client: Client | None = None,
) -> Hypothesis:
    """Register a hypothesis before its runs exist (or before anyone looks at them).

    Args:
        statement: the claim in words.
        baseline: baseline run selector (``digits:model=logreg``).
        candidate: candidate run selector.
        metric: metric name (``accuracy``, ``macro_f1``, ``auc``, ...).
        min_effect: smallest improvement that counts, metric units, >= 0.
        alpha: significance level.
        dataset: data set of the predictions (default: the only one the runs share).
        seeds: finished runs needed in each group before it is evaluated.
        supersedes: id of a hypothesis this one replaces.
        settings: where the store lives (default: from the environment).
        client: an open client (overrides ``settings``).

    Returns:
        The new :class:`Hypothesis`, status ``waiting for runs``.

    Raises:
        InvalidArgumentError: a bad selector, metric, alpha, min_effect or seeds.
        NotFoundError: ``supersedes`` names no hypothesis.
    """
    return _use(settings, client).add_hypothesis(
        statement,
        baseline=baseline,
        candidate=candidate,
        metric=metric,
        min_effect=min_effect,
        alpha=alpha,
        dataset=dataset,
        seeds=seeds,
        supersedes=supersedes,
    )


def revise_hypothesis(
    hypothesis_id: int,
    *,
    statement: str | None = None,
    metric: str | None = None,
    min_effect: float | None = None,
    alpha: float | None = None,
    seeds: int | None = None,
    settings: Settings | None = None,
    client: Client | None = None,
) -> Hypothesis:
    """Register a changed copy of a hypothesis that supersedes it; the old one is kept as is.

    Raises:
        NotFoundError: no such hypothesis.
        InvalidArgumentError: nothing would change, or a new value is invalid.
    """
    return _use(settings, client).revise_hypothesis(
        hypothesis_id,
        statement=statement,
        metric=metric,
        min_effect=min_effect,
        alpha=alpha,
        seeds=seeds,
    )


def get_hypothesis(
    hypothesis_id: int, *, settings: Settings | None = None, client: Client | None = None
) -> Hypothesis:
    """One hypothesis as stored (reading never evaluates: see :func:`evaluate_hypothesis`).

    Raises:
        NotFoundError: no such hypothesis.
    """
    return _use(settings, client).get_hypothesis(hypothesis_id)


def list_hypotheses(
    *, settings: Settings | None = None, client: Client | None = None
) -> list[Hypothesis]:
    """Every hypothesis as stored, oldest first, superseded ones included."""
    return _use(settings, client).list_hypotheses()


def evaluate_hypothesis(
    hypothesis_id: int, *, settings: Settings | None = None, client: Client | None = None
) -> Hypothesis:
    """Evaluate a waiting hypothesis if its runs have arrived (once; then it is frozen).

    Raises:
        NotFoundError: no such hypothesis.
    """
    return _use(settings, client).evaluate_hypothesis(hypothesis_id)


def calibrate(
    model_ref: str,
    data: Any,
    *,
    target_error: float = 0.02,
    confidence: float = 0.95,
    method: str = "ltt",
    score: Any = "top",
    settings: Settings | None = None,
    client: Client | None = None,
) -> Calibration:
    """Choose and store a model version's abstention threshold. See :meth:`Client.calibrate`.

    Raises:
        InfeasibleTargetError: no threshold meets the target (the best reachable one is named).
        InvalidArgumentError: training data, malformed data or levels.
        NotFoundError: unknown model or file.
    """
    return _use(settings, client).calibrate(
        model_ref,
        data,
        target_error=target_error,
        confidence=confidence,
        method=method,
        score=score,
    )
