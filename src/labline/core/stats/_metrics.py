"""Metrics that can be recomputed under example weights, many resamples at once.

A resample of a test set (bootstrap draw, or a permutation that swaps two models' outputs on
some examples) is represented by a weight per example: how many times the example appears.
Every metric here is written as ``evaluate(rows, weights) -> values`` where ``rows`` is a
``(m, k)`` float matrix of per-example encodings and ``weights`` a ``(b, m)`` matrix, one row
per resample. That lets identical examples be merged into one row with a count (accuracy on
100,000 examples has at most four distinct (correct_a, correct_b) rows), and it lets one call
score a whole block of resamples with matrix products instead of a Python loop.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError

__all__ = ["METRIC_NAMES", "Metric", "get_metric", "higher_is_better_by_name"]

FloatArray = npt.NDArray[np.float64]
#: How often each example was drawn: ``(n,)`` for one resample (it sums to the number of
#: examples), ``(b, n)`` for a block of resamples, one row each.
CountArray = npt.NDArray[np.integer[Any]]


class DrawScorer:
    """A metric of resamples given as draw counts per example, prepared once for one run.

    ``scorer(counts)`` scores one resample (``(n,)`` counts) and ``scorer.block(counts)`` a
    block of them (``(b, n)``, a row per resample) in one pass; the block is cheapest when its
    counts are of ``count_type`` and laid out example by example (``counts.T`` C-contiguous,
    as ``np.ascontiguousarray(counts.T, dtype=count_type).T`` gives), so that several runs
    can share one layout. Called from several threads at once.
    """

    def __init__(
        self, evaluate_block: Callable[[CountArray], FloatArray], count_type: type[np.integer[Any]]
    ) -> None:
        self._evaluate_block = evaluate_block
        self.count_type = count_type

    def block(self, counts: CountArray) -> FloatArray:
        """``(b,)`` values of the ``(b, n)`` draw counts of a block of resamples."""
        return self._evaluate_block(counts)

    def __call__(self, counts: CountArray) -> float:
        """The value of one resample's ``(n,)`` draw counts."""
        return float(self._evaluate_block(np.asarray(counts)[None, :])[0])


#: Prepares, once per run, the metric of resamples given as draw counts per example.
DrawEvaluator = Callable[[FloatArray, npt.NDArray[np.int64]], DrawScorer]

_EPS = 1e-15


#: Name parts that mark a metric where lower is better (``val_loss``, ``test_error``, ``mae``).
_LOWER_IS_BETTER_WORDS = frozenset(
    {
        "loss",
        "error",
        "err",
        "mae",
        "mse",
        "rmse",
        "mape",
        "smape",
        "nll",
        "perplexity",
        "ppl",
        "brier",
        "wer",
        "cer",
        "latency",
        "regret",
    }
)


def higher_is_better_by_name(name: str) -> bool:
    """The direction a metric's name implies: lower is better for losses and errors.

    ``val_loss``, ``train-error``, ``mae``, ``rmse``, ``logloss``, ``nll``, ``perplexity``, ...
    are lower-is-better; everything else (accuracy, F1, AUC, reward, ...) higher-is-better.
    """
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    return not any(w in _LOWER_IS_BETTER_WORDS or w.endswith(("loss", "error")) for w in words)


_CUSTOM_SIGNATURE = "fn(y_true, y_pred, proba=None, sample_weight=None) -> float"


class _CustomFunction:
    """Calls a user's per-example metric function on the rows of one run, under weights.

    The rows of a run are ``[y_true, y_pred, proba columns...]``. The calling convention is
    decided once, from the function's signature, when the :class:`Metric` is built: ``proba``
    is passed only if ``fn`` takes it, and a resample is given as ``sample_weight`` (how many
    times each row was drawn) if ``fn`` takes that, otherwise by repeating the rows.
    """

    def __init__(
        self,
        name: str,
        fn: Callable[..., object],
        *,
        vectorized: bool,
        labels: npt.NDArray[np.generic] | None = None,
    ) -> None:
        self.name = name
        self.fn = fn
        self.vectorized = vectorized
        self.labels = labels
        parameters: Mapping[str, inspect.Parameter]
        try:
            parameters = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # some builtins have no signature: call positionally
            parameters = {}
        any_keyword = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        self.takes_proba = "proba" in parameters or any_keyword
        self.takes_weight = "sample_weight" in parameters or any_keyword
        if vectorized and not self.takes_weight:
            raise InvalidArgumentError(
                f"metric {name!r}: a vectorized fn must take sample_weight of shape "
                "(resamples, examples)"
            )

    def with_labels(self, labels: npt.NDArray[np.generic]) -> _CustomFunction:
        """The same function, fed the original labels instead of their class codes."""
        return _CustomFunction(self.name, self.fn, vectorized=self.vectorized, labels=labels)

    def encode(
        self,
        y_true: npt.NDArray[np.generic],
        y_pred: npt.NDArray[np.generic],
        proba: FloatArray | None,
    ) -> FloatArray:
        columns = [np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)]
        if proba is not None and self.takes_proba:
            return np.column_stack([*columns, proba])
        return np.column_stack(columns)

    def _arguments(
        self, rows: FloatArray
    ) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.generic], FloatArray | None]:
        y: npt.NDArray[np.generic] = rows[:, 0]
        p: npt.NDArray[np.generic] = rows[:, 1]
        if self.labels is not None:
            y, p = self.labels[y.astype(np.int64)], self.labels[p.astype(np.int64)]
        proba = rows[:, 2:] if rows.shape[1] > 2 else None
        return y, p, proba

    def _call(
        self,
        y: npt.NDArray[np.generic],
        p: npt.NDArray[np.generic],
        proba: FloatArray | None,
        weight: FloatArray | None,
    ) -> object:
        kwargs: dict[str, object] = {}
        if self.takes_proba:
            kwargs["proba"] = proba
        if weight is not None:
            kwargs["sample_weight"] = weight
        try:
            return self.fn(y, p, **kwargs)
        except Exception as e:  # the user's code: say whose it was, keep the cause chained
            raise InvalidArgumentError(
                f"metric {self.name!r} raised {type(e).__name__}; it must accept "
                f"{_CUSTOM_SIGNATURE}"
            ) from e

    def scalar(self, value: object) -> float:
        """``value`` as a float, or InvalidArgumentError naming the metric."""
        arr = np.asarray(value)
        if arr.ndim != 0 or arr.dtype.kind not in "biuf":
            raise InvalidArgumentError(
                f"metric {self.name!r} must return a finite scalar, got "
                + (f"an array of shape {arr.shape}" if arr.ndim else type(value).__name__)
            )
        return float(arr)

    def __call__(self, rows: FloatArray, weights: FloatArray) -> FloatArray:
        y, p, proba = self._arguments(rows)
        if self.vectorized:
            values = np.asarray(self._call(y, p, proba, weights), dtype=np.float64)
            if values.shape != (weights.shape[0],):
                raise InvalidArgumentError(
                    f"metric {self.name!r} is vectorized: it must return one value per row of "
                    f"sample_weight, shape ({weights.shape[0]},), got {values.shape}"
                )
            return values
        out = np.empty(weights.shape[0])
        for i, w in enumerate(weights):
            drawn = w > 0
            if self.takes_weight:
                value = self._call(
                    y[drawn], p[drawn], None if proba is None else proba[drawn], w[drawn]
                )
            else:
                index = np.repeat(np.flatnonzero(drawn), w[drawn].astype(np.int64))
                value = self._call(
                    y[index], p[index], None if proba is None else proba[index], None
                )
            out[i] = self.scalar(value)
        return out

    def check(self, rows: FloatArray, counts: npt.NDArray[np.int64]) -> None:
        """Validate on first use: a finite scalar, and ``sample_weight`` honoured as repetition.

        A function that takes ``sample_weight`` but ignores it would give every resample the
        same value and a zero-width interval; comparing a weighted call with the rows repeated
        catches it.
        """
        full = counts.astype(np.float64)[None, :]
        value = float(self(rows, full)[0])
        if not math.isfinite(value):
            raise InvalidArgumentError(
                f"metric {self.name!r} must return a finite scalar, got {value} on a run's "
                "predictions"
            )
        if not self.takes_weight or rows.shape[0] < 2:
            return
        doubled = full * (1 + np.arange(rows.shape[0]) % 2)
        index = np.repeat(np.arange(rows.shape[0]), doubled[0].astype(np.int64))
        repeated = float(self(rows[index], np.ones((1, index.size)))[0])
        weighted = float(self(rows, doubled)[0])
        if not math.isclose(weighted, repeated, rel_tol=1e-7, abs_tol=1e-9):
            raise InvalidArgumentError(
                f"metric {self.name!r}: fn(..., sample_weight=w) gives {weighted:.6g} but "
                f"{repeated:.6g} on the examples repeated w times; fn must treat sample_weight "
                "as repetition counts (or not take sample_weight)"
            )


@dataclass(frozen=True, init=False)
class Metric:
    """A metric to compare runs on: built in, or your own per-example function.

    Your own: ``Metric("weighted_f1", fn, higher_is_better=True)`` with
    ``fn(y_true, y_pred, proba=None, sample_weight=None) -> float`` computed from one run's
    per-example predictions. ``proba`` (``(n, n_classes)``, columns in class order) is passed
    only if ``fn`` takes a ``proba`` parameter and every compared run logged probabilities;
    labels arrive as they were logged. The paired bootstrap and permutation test recompute
    ``fn`` on every resample: as ``sample_weight`` (how many times each example was drawn) if
    ``fn`` takes it, otherwise on the examples repeated. With ``vectorized=True``, ``fn``
    receives ``sample_weight`` of shape ``(resamples, examples)`` and returns one value per
    resample. On first use ``fn`` must return a finite scalar.

    Built-in metrics come from :func:`get_metric`; internally every metric is
    ``encode`` (per-example rows) and ``evaluate`` (rows and weights to values).

    Attributes:
        name: the metric's name in reports.
        higher_is_better: direction of improvement (default: from the name, lower for
            ``loss``, ``error``, ``mae``, ``mse``, ``rmse``, ...).
        needs_proba: the metric reads class probabilities rather than labels.
        kind: ``classification`` (labels coded as class indices), ``regression``, or
            ``custom`` (a user function).
        per_example: the metric is the weighted mean of ``rows[:, 0]`` (accuracy, log-loss,
            MAE, MSE); such metrics get exact permutation tests for any size.
        encode: ``(y_true, y_pred, proba) -> (n, k)`` per-example encoding.
        evaluate: ``(rows (m, k), weights (b, m)) -> (b,)`` the metric under each weight row.
        fn: the user's function, or ``None`` for a built-in metric.
        rank_based: the metric reads the scores (every encoded column after the first) only
            through their order, so a permutation test must swap ranks, not raw scores (AUC).
        draw_evaluator: optional fast path for the bootstrap: ``(rows, counts)`` prepares, once,
            a :class:`DrawScorer` from resamples' draw counts (how often each of the ``n``
            examples was drawn, examples numbered row by row, each row repeated ``counts``
            times; a resample draws ``n``) to their metric, a block of resamples at a time.
            It is called from several threads.

    Example:
        >>> import numpy as np
        >>> def share_correct(y_true, y_pred, sample_weight=None):
        ...     return float(np.average(y_true == y_pred, weights=sample_weight))
        >>> Metric("share_correct", share_correct).higher_is_better
        True
    """

    name: str
    higher_is_better: bool
    needs_proba: bool
    kind: str
    per_example: bool
    encode: Callable[
        [npt.NDArray[np.generic], npt.NDArray[np.generic], FloatArray | None], FloatArray
    ]
    evaluate: Callable[[FloatArray, FloatArray], FloatArray]
    fn: Callable[..., object] | None
    rank_based: bool
    draw_evaluator: DrawEvaluator | None

    def __init__(
        self,
        name: str,
        fn: Callable[..., object] | None = None,
        *,
        higher_is_better: bool | None = None,
        needs_proba: bool = False,
        vectorized: bool = False,
        kind: str = "custom",
        per_example: bool = False,
        encode: Callable[
            [npt.NDArray[np.generic], npt.NDArray[np.generic], FloatArray | None], FloatArray
        ]
        | None = None,
        evaluate: Callable[[FloatArray, FloatArray], FloatArray] | None = None,
        rank_based: bool = False,
        draw_evaluator: DrawEvaluator | None = None,
    ) -> None:
        """Define a metric from a per-example function.

        Args:
            name: the metric's name (not a built-in metric's name).
            fn: ``fn(y_true, y_pred, proba=None, sample_weight=None) -> float``.
            higher_is_better: direction; default from the name (see
                :func:`higher_is_better_by_name`).
            needs_proba: refuse runs that logged no probabilities.
            vectorized: ``fn`` takes ``sample_weight`` of shape ``(resamples, examples)`` and
                returns ``(resamples,)`` values.
            kind, per_example, encode, evaluate, rank_based, draw_evaluator: the internal
                form built-in metrics are written in (see the attributes); leave them out when
                giving ``fn``.

        Raises:
            InvalidArgumentError: an empty or built-in name, ``fn`` not callable, or a
                non-boolean option.
        """
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError("Metric name must be a non-empty string")
        for option, value in (
            ("higher_is_better", higher_is_better),
            ("needs_proba", needs_proba),
            ("vectorized", vectorized),
        ):
            if value is not None and not isinstance(value, (bool, np.bool_)):
                raise InvalidArgumentError(f"metric {name!r}: {option} must be True or False")
        if encode is None or evaluate is None:  # a user's function
            if not callable(fn):
                raise InvalidArgumentError(
                    f"metric {name!r}: fn must be a function {_CUSTOM_SIGNATURE}"
                )
            if _canonical(name) in _METRICS:
                raise InvalidArgumentError(
                    f"metric name {name!r} is a built-in metric; give yours another name"
                )
            custom = _CustomFunction(name, fn, vectorized=bool(vectorized))
            if needs_proba and not custom.takes_proba:
                raise InvalidArgumentError(f"metric {name!r}: needs_proba, but fn takes no proba")
            kind, per_example, encode, evaluate = "custom", False, custom.encode, custom
        if higher_is_better is None:
            higher_is_better = higher_is_better_by_name(name)
        self._set(
            name=name,
            higher_is_better=bool(higher_is_better),
            needs_proba=bool(needs_proba),
            kind=kind,
            per_example=bool(per_example),
            encode=encode,
            evaluate=evaluate,
            fn=fn,
            rank_based=bool(rank_based),
            draw_evaluator=draw_evaluator,
        )

    def _set(self, **fields: object) -> None:
        for key, value in fields.items():
            object.__setattr__(self, key, value)

    @classmethod
    def _builtin(
        cls,
        name: str,
        higher_is_better: bool,
        needs_proba: bool,
        kind: str,
        per_example: bool,
        encode: Callable[
            [npt.NDArray[np.generic], npt.NDArray[np.generic], FloatArray | None], FloatArray
        ],
        evaluate: Callable[[FloatArray, FloatArray], FloatArray],
        *,
        rank_based: bool = False,
        draw_evaluator: DrawEvaluator | None = None,
    ) -> Metric:
        return cls(
            name,
            higher_is_better=higher_is_better,
            needs_proba=needs_proba,
            kind=kind,
            per_example=per_example,
            encode=encode,
            evaluate=evaluate,
            rank_based=rank_based,
            draw_evaluator=draw_evaluator,
        )

    def with_direction(self, higher_is_better: bool) -> Metric:
        """The same metric with the given direction of improvement."""
        return dataclasses.replace(self, higher_is_better=bool(higher_is_better))

    def with_labels(self, labels: npt.NDArray[np.generic]) -> Metric:
        """A custom metric that decodes class codes back to ``labels`` before calling ``fn``."""
        if not isinstance(self.evaluate, _CustomFunction):
            return self
        custom = self.evaluate.with_labels(labels)
        return dataclasses.replace(self, encode=custom.encode, evaluate=custom)

    def check_first_use(self, rows: FloatArray, counts: npt.NDArray[np.int64]) -> None:
        """Validate a custom metric on one run's rows (no-op for built-in metrics).

        Raises:
            InvalidArgumentError: ``fn`` raised, returned a non-scalar or non-finite value, or
                takes ``sample_weight`` but does not treat it as repetition counts.
        """
        if isinstance(self.evaluate, _CustomFunction):
            self.evaluate.check(rows, counts)

    def point(self, rows: FloatArray) -> float:
        """The metric on the unweighted rows (each row counted once)."""
        return float(self.evaluate(rows, np.ones((1, rows.shape[0])))[0])


def _weighted_mean_first_column(rows: FloatArray, weights: FloatArray) -> FloatArray:
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((weights @ rows[:, 0]) / total, dtype=np.float64)


def _encode_correct(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    correct: FloatArray = (y_true == y_pred).astype(np.float64)
    return correct[:, None]


def _encode_labels(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    return np.column_stack([y_true, y_pred]).astype(np.float64)


def _macro_f1(rows: FloatArray, weights: FloatArray) -> FloatArray:
    # F1_k = 2 TP_k / (n_pred_k + n_true_k), averaged over the classes present in the resample
    # (in y_true or y_pred), as scikit-learn's f1_score(average="macro") does.
    y = rows[:, 0].astype(np.int64)
    p = rows[:, 1].astype(np.int64)
    n_classes = int(max(y.max(initial=0), p.max(initial=0))) + 1
    eye = np.eye(n_classes)
    true_k = weights @ eye[y]
    pred_k = weights @ eye[p]
    tp_k = weights @ (eye[y] * (y == p)[:, None])
    support = true_k + pred_k
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2.0 * tp_k / np.where(present, support, 1.0), 0.0)
    n_present = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(f1.sum(axis=1) / n_present, dtype=np.float64)


def _encode_proba_for_auc(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    if proba is None:
        raise InvalidArgumentError("metric 'auc' needs probabilities (proba) for every run")
    scores = proba[:, 1:2] if proba.shape[1] == 2 else proba
    return np.column_stack([y_true.astype(np.float64), scores])


def _weighted_binary_auc(
    positive: npt.NDArray[np.bool_], score: FloatArray, weights: FloatArray
) -> FloatArray:
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    w = np.take(weights, order, axis=1)  # several times faster than weights[:, order]
    pos = positive[order]
    pos_by_score = w * pos
    neg_by_score = w - pos_by_score
    if starts.size < score.size:  # tied scores: one group per distinct score
        pos_by_score = np.add.reduceat(pos_by_score, starts, axis=1)
        neg_by_score = np.add.reduceat(neg_by_score, starts, axis=1)
    neg_below = np.cumsum(neg_by_score, axis=1) - neg_by_score
    # ties between a positive and a negative count one half, as in the Mann-Whitney U statistic
    numerator = (pos_by_score * (neg_below + 0.5 * neg_by_score)).sum(axis=1)
    denominator = pos_by_score.sum(axis=1) * neg_by_score.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(
            np.where(denominator > 0, numerator / denominator, np.nan), dtype=np.float64
        )


def _auc(rows: FloatArray, weights: FloatArray) -> FloatArray:
    y = rows[:, 0].astype(np.int64)
    if rows.shape[1] == 2:  # binary: one score column, the positive class's probability
        return _weighted_binary_auc(y == 1, rows[:, 1], weights)
    # multi-class: one-vs-rest, macro average (scikit-learn's multi_class="ovr")
    per_class = [
        _weighted_binary_auc(y == k, rows[:, 1 + k], weights) for k in range(rows.shape[1] - 1)
    ]
    return np.asarray(np.mean(per_class, axis=0), dtype=np.float64)


def _binary_auc_of_draws(
    positive: npt.NDArray[np.bool_], score: FloatArray, counts: npt.NDArray[np.int64]
) -> DrawScorer:
    """Prepare the AUC of one score column under resamples given as draw counts per example.

    The examples are laid out in score order once (negatives before positives among equal
    scores) and cut into runs of one class. A resample's AUC needs only each run's drawn
    total: the pairs (positive, negative) with the negative at or below the positive number
    ``sum(P_k * N_<=k)`` over the positive runs, ``P_k`` the run's total and ``N_<=k`` the
    negatives drawn in the runs before it. A tie between a positive and a negative counts one
    half, as in the Mann-Whitney U statistic, so half of ``P_g * N_g`` is taken off for every
    group of equal scores holding both classes. The run totals (and the tie groups' class
    totals) of a block of resamples are one sparse-by-dense product: a 0/1 matrix (a row per
    run, a column per example) times the block's counts laid out example by example, the
    resamples side by side, so each example's counts are read once, contiguously, for the whole
    block. No sort per resample; integer arithmetic throughout, so the value is exact (the
    same bits whatever the block or the thread).
    """
    from scipy import sparse  # lazy: keeps `import labline` fast

    n = int(counts.sum())
    example_score = np.repeat(score, counts)
    example_positive = np.repeat(positive, counts)
    # lexsort: last key first; within equal scores negatives (False) before positives
    order = np.lexsort((example_positive, example_score))
    sorted_score = example_score[order]
    sorted_positive = example_positive[order]
    new_run = np.r_[True, sorted_positive[1:] != sorted_positive[:-1]]
    run_starts = np.flatnonzero(new_run)
    run_of = np.cumsum(new_run) - 1  # the run of each example, in score order
    run_positive = sorted_positive[run_starts]
    n_runs = int(run_starts.size)
    n_neg_runs = int(np.count_nonzero(~run_positive))
    # matrix rows: the negative runs in score order, then the positive runs, then the
    # negatives of each group of equal scores that holds both classes, then its positives
    run_row = np.where(
        run_positive, n_neg_runs + np.cumsum(run_positive) - 1, np.cumsum(~run_positive) - 1
    )
    group = np.r_[0, np.cumsum(sorted_score[1:] != sorted_score[:-1])]
    pos_in_group = np.bincount(group, weights=sorted_positive)
    mixed = (pos_in_group > 0) & (pos_in_group < np.bincount(group))
    tied_at = np.flatnonzero(mixed[group])
    tied_group = np.unique(group[tied_at], return_inverse=True)[1]
    n_tied = int(tied_group.max()) + 1 if tied_at.size else 0
    rows = np.concatenate(
        [run_row[run_of], n_runs + tied_group + n_tied * sorted_positive[tied_at]]
    )
    count_type: type[np.integer[Any]] = np.int32 if n < 2**31 else np.int64
    totals = sparse.csr_matrix(
        (np.ones(rows.size, dtype=count_type), (rows, np.concatenate([order, order[tied_at]]))),
        shape=(n_runs + 2 * n_tied, n),
    )
    first_positive = bool(run_positive[0])

    def evaluate_block(draw_counts: npt.NDArray[np.integer[Any]]) -> FloatArray:
        # (examples, resamples): one contiguous row of counts per example (no copy if the
        # caller already laid them out so)
        by_example = np.ascontiguousarray(draw_counts.T, dtype=count_type)
        summed = np.ascontiguousarray((totals @ by_example).T, dtype=np.int64)
        negatives = np.cumsum(summed[:, :n_neg_runs], axis=1)
        positives = summed[:, n_neg_runs:n_runs]
        if first_positive:  # the first positive run has no negative below it
            positives = positives[:, 1:]
        below = negatives[:, : positives.shape[1]]
        twice_u = 2 * np.einsum("ij,ij->i", positives, below)
        if n_tied:
            tied = summed[:, n_runs:]
            twice_u -= np.einsum("ij,ij->i", tied[:, :n_tied], tied[:, n_tied:])
        n_neg = negatives[:, -1] if n_neg_runs else np.zeros(summed.shape[0], dtype=np.int64)
        denominator = 2 * n_neg * (n - n_neg)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(
                np.where(denominator > 0, twice_u / denominator, np.nan), dtype=np.float64
            )

    return DrawScorer(evaluate_block, count_type)


def _auc_draw_evaluator(rows: FloatArray, counts: npt.NDArray[np.int64]) -> DrawScorer:
    y = rows[:, 0].astype(np.int64)
    n_scores = rows.shape[1] - 1
    if n_scores == 1:
        return _binary_auc_of_draws(y == 1, rows[:, 1], counts)
    per_class = [_binary_auc_of_draws(y == k, rows[:, 1 + k], counts) for k in range(n_scores)]
    count_type = per_class[0].count_type

    def evaluate_block(draw_counts: npt.NDArray[np.integer[Any]]) -> FloatArray:
        # laid out example by example once, for every class
        by_example = np.ascontiguousarray(draw_counts.T, dtype=count_type).T
        return np.asarray(
            np.mean([f.block(by_example) for f in per_class], axis=0), dtype=np.float64
        )

    return DrawScorer(evaluate_block, count_type)


def _encode_log_loss(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    if proba is None:
        raise InvalidArgumentError("metric 'log_loss' needs probabilities (proba) for every run")
    p_true = proba[np.arange(proba.shape[0]), y_true.astype(np.int64)]
    return (-np.log(np.clip(p_true, _EPS, 1.0)))[:, None]


def _encode_abs_error(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    return np.abs(y_true.astype(np.float64) - y_pred.astype(np.float64))[:, None]


def _encode_squared_error(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    return ((y_true.astype(np.float64) - y_pred.astype(np.float64)) ** 2)[:, None]


def _rmse(rows: FloatArray, weights: FloatArray) -> FloatArray:
    return np.sqrt(_weighted_mean_first_column(rows, weights))


_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric._builtin(
            "accuracy",
            True,
            False,
            "classification",
            True,
            _encode_correct,
            _weighted_mean_first_column,
        ),
        Metric._builtin(
            "macro_f1", True, False, "classification", False, _encode_labels, _macro_f1
        ),
        Metric._builtin(
            "auc",
            True,
            True,
            "classification",
            False,
            _encode_proba_for_auc,
            _auc,
            rank_based=True,
            draw_evaluator=_auc_draw_evaluator,
        ),
        Metric._builtin(
            "log_loss",
            False,
            True,
            "classification",
            True,
            _encode_log_loss,
            _weighted_mean_first_column,
        ),
        Metric._builtin(
            "mae", False, False, "regression", True, _encode_abs_error, _weighted_mean_first_column
        ),
        Metric._builtin(
            "mse",
            False,
            False,
            "regression",
            True,
            _encode_squared_error,
            _weighted_mean_first_column,
        ),
        Metric._builtin("rmse", False, False, "regression", False, _encode_squared_error, _rmse),
    )
}
_ALIASES = {"acc": "accuracy", "f1_macro": "macro_f1", "roc_auc": "auc", "logloss": "log_loss"}

METRIC_NAMES: tuple[str, ...] = tuple(sorted(_METRICS))


def _canonical(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    return _ALIASES.get(key, key)


def get_metric(name: str) -> Metric:
    """Look up a metric by name (``accuracy``, ``macro_f1``, ``auc``, ``log_loss``, ``mae``, ``mse``, ``rmse``).

    Args:
        name: metric name; a few aliases are accepted (``roc_auc``, ``f1_macro``, ``acc``).

    Returns:
        The :class:`Metric`.

    Raises:
        InvalidArgumentError: the name is not a known metric.
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"metric must be a name, one of: {', '.join(METRIC_NAMES)}")
    key = _canonical(name)
    try:
        return _METRICS[key]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown metric {name!r}; choose one of: {', '.join(METRIC_NAMES)}"
        ) from None
