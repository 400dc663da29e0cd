"""Resamples counted per example and scored on worker threads: the same resamples whatever the
number of threads, each one exactly the metric of the drawn examples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

import labline.core.stats._counted_draws as counted_draws
from labline.core import stats

N = 3_000
RESAMPLES = 70  # several blocks, the last one short


def _binary(y: np.ndarray, score: np.ndarray) -> stats.Predictions:
    p = 1 / (1 + np.exp(-score))
    return stats.Predictions((p > 0.5).astype(int), np.column_stack([1 - p, p]))


@pytest.fixture
def runs() -> tuple[np.ndarray, list[stats.Predictions]]:
    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, N)
    return y, [_binary(y, s * y + rng.normal(0, 1, N)) for s in (1.0, 1.1, 0.9, 1.2)]


def _with_workers(monkeypatch: pytest.MonkeyPatch, workers: int, fn):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(counted_draws, "worker_count", lambda: workers)
    return fn()


@pytest.mark.parametrize("metric", ["auc", "log_loss"])
def test_the_distribution_does_not_depend_on_the_number_of_threads(
    monkeypatch: pytest.MonkeyPatch, runs: tuple[np.ndarray, list[stats.Predictions]], metric: str
) -> None:
    y, preds = runs
    m = stats.get_metric(metric)
    for data in (
        stats.encode_groups(m, y, preds[:1], preds[1:2]),  # paired, one run each
        stats.encode_groups(m, y, preds[:2], preds[2:]),  # two-level, two seeds each
    ):
        block = 64 * N  # small blocks: a few resamples each, as at scale

        def boot(data=data, block=block):  # type: ignore[no-untyped-def]
            return stats.bootstrap_difference(
                data, n_resamples=RESAMPLES, rng=5, max_block_elements=block
            ).distribution

        one = _with_workers(monkeypatch, 1, boot)
        for workers in (2, 3):
            # AUC is computed in integers (equal bits); a mean's matrix product may round its
            # last bit differently when a block is split
            np.testing.assert_allclose(
                _with_workers(monkeypatch, workers, boot), one, rtol=1e-12, atol=0
            )


def _unmerged(metric: str, y: np.ndarray, preds: list[stats.Predictions]) -> stats.EncodedGroups:
    """The first two runs paired, rows in example order (no merging): drawn indices are
    example indices."""
    m = stats.get_metric(metric)
    return stats.encode_groups(m, y, preds[:1], preds[1:2], merge_identical=False)


def test_paired_log_loss_resamples_are_the_mean_difference_on_the_drawn_examples(
    runs: tuple[np.ndarray, list[stats.Predictions]],
) -> None:
    y, preds = runs
    data = _unmerged("log_loss", y, preds)
    result = stats.bootstrap_difference(data, n_resamples=RESAMPLES, rng=8)
    # the same generator draws the same indices: score them directly
    draws = np.random.default_rng(8).integers(0, N, size=(RESAMPLES, N))

    def loss(p: stats.Predictions) -> np.ndarray:
        return -np.log(np.asarray(p.proba)[np.arange(N), y])

    direct = (loss(preds[1])[draws] - loss(preds[0])[draws]).mean(axis=1)
    np.testing.assert_allclose(result.distribution, direct, rtol=0, atol=1e-12)


def test_paired_auc_resamples_are_sklearns_auc_on_the_drawn_examples(
    runs: tuple[np.ndarray, list[stats.Predictions]],
) -> None:
    y, preds = runs
    data = _unmerged("auc", y, preds)
    result = stats.bootstrap_difference(data, n_resamples=12, rng=3)
    # examples are numbered in the baseline's score order before drawing (see _per_run_blocks)
    order = np.lexsort(data.rows[:, data.baseline_columns[0]].T)
    draws = np.random.default_rng(3).integers(0, N, size=(12, N), dtype=np.int32)
    scores = [np.asarray(p.proba)[:, 1][order] for p in preds[:2]]
    labels = y[order]
    for drawn, value in zip(draws, result.distribution, strict=True):
        expected = skm.roc_auc_score(labels[drawn], scores[1][drawn]) - skm.roc_auc_score(
            labels[drawn], scores[0][drawn]
        )
        assert value == pytest.approx(expected, abs=1e-12)


def test_int32_and_int64_draw_the_same_indices() -> None:
    # the bootstrap draws int32 indices (faster) where int64 ones were drawn before: the same
    # values, so a seed keeps giving the same resamples
    for n in (7, 3_000, 100_000, 2**31 - 1):
        wide = np.random.default_rng(n).integers(0, n, size=(3, 1_000), dtype=np.int64)
        narrow = np.random.default_rng(n).integers(0, n, size=(3, 1_000), dtype=np.int32)
        np.testing.assert_array_equal(wide, narrow)


@pytest.mark.parametrize("tied", [False, True])
def test_auc_of_a_block_of_draws_is_sklearns_auc_of_each_resample(tied: bool) -> None:
    rng = np.random.default_rng(4)
    n = 500
    y = rng.integers(0, 2, n)
    score = y + rng.normal(0, 1, n)
    if tied:
        score = np.round(score, 1)
    p = 1 / (1 + np.exp(-score))
    auc = stats.get_metric("auc")
    rows = auc.encode(y, (p > 0.5).astype(int), np.column_stack([1 - p, p]))
    scorer = auc.draw_evaluator(rows, np.ones(n, dtype=np.int64))  # type: ignore[misc]
    draws = rng.integers(0, n, size=(40, n))
    draws[0] = np.flatnonzero(y == 1)[0]  # one resample of a single positive: no AUC
    counts = np.stack([np.bincount(d, minlength=n) for d in draws])
    values = scorer.block(counts)
    assert np.isnan(values[0])
    for drawn, value, one in zip(draws[1:], values[1:], counts[1:], strict=True):
        expected = skm.roc_auc_score(y[drawn], p[drawn])
        assert value == pytest.approx(expected, abs=1e-12)
        assert scorer(one) == value  # one resample alone: the same bits
