"""Paired data: per-run predictions on one test set, encoded once for a metric.

Encoding turns every run's predictions into a ``(n, k)`` float block (see
:mod:`._metrics`); the blocks of all runs sit side by side, and identical rows are merged
into one row with a count. All resampling then works on those counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError
from ._metrics import FloatArray, Metric

__all__ = ["EncodedGroups", "Predictions", "bootstrap_weight_blocks", "encode_groups"]

#: Upper bound on the elements of one resample block (weights or indices): 2**22 float64 = 32 MiB.
DEFAULT_BLOCK_ELEMENTS = 1 << 22


@dataclass(frozen=True, eq=False)
class Predictions:
    """One run's predictions on the test set, in the same example order as ``y_true``.

    Attributes:
        y_pred: predicted label (classification) or value (regression), one per example.
        proba: optional ``(n, n_classes)`` class probabilities, columns in ``classes`` order.
    """

    y_pred: npt.ArrayLike
    proba: npt.ArrayLike | None = None


@dataclass(frozen=True, eq=False)
class EncodedGroups:
    """Baseline and candidate runs encoded for one metric, identical examples merged.

    Attributes:
        metric: the metric the rows were encoded for.
        rows: ``(m, total_columns)`` distinct encoded rows.
        counts: ``(m,)`` how many examples each row stands for; sums to ``n_examples``.
        n_examples: size of the test set.
        baseline_columns: one column slice of ``rows`` per baseline run.
        candidate_columns: one column slice of ``rows`` per candidate run.
    """

    metric: Metric
    rows: FloatArray
    counts: npt.NDArray[np.int64]
    n_examples: int
    baseline_columns: tuple[slice, ...]
    candidate_columns: tuple[slice, ...]

    def run_values(self, columns: Sequence[slice]) -> FloatArray:
        """The metric of each run (one per slice) on the full test set."""
        w = self.counts.astype(np.float64)[None, :]
        return np.array([self.metric.evaluate(self.rows[:, c], w)[0] for c in columns])


def _as_1d(values: npt.ArrayLike, name: str, n: int) -> npt.NDArray[np.generic]:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidArgumentError(
            f"{name} must be one-dimensional with {n} entries, got shape {arr.shape}"
        )
    return arr


def encode_groups(
    metric: Metric,
    y_true: npt.ArrayLike,
    baseline: Sequence[Predictions],
    candidate: Sequence[Predictions],
    *,
    classes: Sequence[object] | None = None,
    merge_identical: bool = True,
) -> EncodedGroups:
    """Encode baseline and candidate runs for ``metric``.

    Args:
        metric: the metric to compare on.
        y_true: true labels or values, one per example.
        baseline: one :class:`Predictions` per baseline run (seed), all on the same examples.
        candidate: one :class:`Predictions` per candidate run.
        classes: class labels in probability-column order; defaults to the sorted labels seen.
        merge_identical: merge identical encoded rows into one row with a count (exact; turn
            off only to measure its effect).

    Returns:
        The :class:`EncodedGroups`.

    Raises:
        InvalidArgumentError: a group is empty, shapes disagree, or the metric needs
            probabilities that a run did not provide.
    """
    if not baseline or not candidate:
        raise InvalidArgumentError("baseline and candidate each need at least one run")
    y = np.asarray(y_true)
    if y.ndim != 1 or y.shape[0] == 0:
        raise InvalidArgumentError("y_true must be a non-empty one-dimensional array")
    n = int(y.shape[0])
    runs = [*baseline, *candidate]
    preds = [_as_1d(r.y_pred, f"y_pred of run {i}", n) for i, r in enumerate(runs)]
    probas: list[FloatArray | None] = []
    for i, r in enumerate(runs):
        if r.proba is None:
            probas.append(None)
            continue
        p = np.asarray(r.proba, dtype=np.float64)
        if p.ndim != 2 or p.shape[0] != n:
            raise InvalidArgumentError(
                f"proba of run {i} must have shape ({n}, n_classes), got {p.shape}"
            )
        probas.append(p)

    if metric.kind == "custom":
        if metric.needs_proba and any(p is None for p in probas):
            raise InvalidArgumentError(
                f"metric {metric.name!r} needs probabilities (proba) for every run"
            )
        if any(p is None for p in probas):  # fn gets proba from every run or from none
            probas = [None] * len(probas)
    # a custom function gets numbers as logged; other labels travel as codes, decoded for it
    numeric = all(v.dtype.kind in "biuf" for v in (y, *preds))
    if metric.kind == "classification" or (metric.kind == "custom" and not numeric):
        try:
            seen = np.unique(np.concatenate([y, *preds]))
        except TypeError:
            raise InvalidArgumentError("y_true and y_pred labels must all be of one type") from None
        n_columns = {p.shape[1] for p in probas if p is not None}
        if len(n_columns) > 1:
            raise InvalidArgumentError("every run's proba must have the same number of columns")
        if classes is None and n_columns:
            k = n_columns.pop()
            integral = seen.dtype.kind in "iu" or (
                seen.dtype.kind == "f" and bool(np.all(seen == np.round(seen)))
            )
            if integral and seen.size and seen.min() >= 0 and seen.max() < k:
                classes = list(range(k))
            elif seen.size == k:
                classes = seen.tolist()
            else:
                raise InvalidArgumentError(
                    f"proba has {k} columns but the labels do not say which class each is; pass classes"
                )
        if classes is None:
            labels = seen
        else:
            labels = np.asarray(list(classes))
            extra = np.setdiff1d(seen, labels)
            if extra.size and metric.needs_proba:
                raise InvalidArgumentError(
                    f"{extra.size} label(s) in y_true/y_pred are not among the classes of the "
                    "probability columns"
                )
            if extra.size:
                labels = np.concatenate([labels, extra])
        sorter = np.argsort(labels, kind="mergesort")
        ordered = labels[sorter]

        def code(values: npt.NDArray[np.generic]) -> npt.NDArray[np.int64]:
            return np.asarray(sorter[np.searchsorted(ordered, values)], dtype=np.int64)

        y_code = code(y)
        pred_codes = [code(p) for p in preds]
        if metric.kind == "custom":
            metric = metric.with_labels(labels)
    else:
        y_code = y.astype(np.float64)
        pred_codes = [p.astype(np.float64) for p in preds]

    blocks = [metric.encode(y_code, pc, pb) for pc, pb in zip(pred_codes, probas, strict=True)]
    columns: list[slice] = []
    start = 0
    for b in blocks:
        columns.append(slice(start, start + b.shape[1]))
        start += b.shape[1]
    full = np.hstack(blocks)
    if merge_identical:
        rows, counts = np.unique(full, axis=0, return_counts=True)
    else:
        rows, counts = full, np.ones(n, dtype=np.int64)
    for c in columns:
        metric.check_first_use(rows[:, c], counts)
    return EncodedGroups(
        metric=metric,
        rows=np.ascontiguousarray(rows, dtype=np.float64),
        counts=counts.astype(np.int64),
        n_examples=n,
        baseline_columns=tuple(columns[: len(baseline)]),
        candidate_columns=tuple(columns[len(baseline) :]),
    )


def bootstrap_weight_blocks(
    counts: npt.NDArray[np.int64],
    n_resamples: int,
    rng: np.random.Generator,
    max_block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> Iterator[FloatArray]:
    """Yield ``(b, m)`` bootstrap weights (how often each row is drawn), ``n_resamples`` rows in all.

    A bootstrap resample draws ``n`` examples with replacement; the number of draws landing
    on each merged row is then Multinomial(n, counts / n). When rows are few compared with
    examples that multinomial is drawn directly (exact, and it never touches ``n`` indices);
    otherwise indices are drawn and counted. Memory stays under ``max_block_elements``.
    """
    m = int(counts.shape[0])
    n = int(counts.sum())
    use_multinomial = m * 8 <= n
    per_row = m if use_multinomial else max(n, m)
    block = max(1, max_block_elements // per_row)
    pvals = counts / n
    # with every row a single example (continuous values) the row of draw i is i itself
    owner = None if use_multinomial or m == n else np.repeat(np.arange(m), counts)
    done = 0
    while done < n_resamples:
        b = min(block, n_resamples - done)
        if use_multinomial:
            weights = rng.multinomial(n, pvals, size=b).astype(np.float64)
        else:
            picked = rng.integers(0, n, size=(b, n))
            if owner is not None:
                picked = owner[picked]
            # one bincount per resample: its m counters stay in cache, where one bincount over
            # b * m offset counters does not (about 1.5 times faster at 100,000 examples)
            weights = np.empty((b, m))
            for i in range(b):
                weights[i] = np.bincount(picked[i], minlength=m)
        done += b
        yield weights
