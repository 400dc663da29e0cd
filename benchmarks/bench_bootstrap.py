"""Paired bootstrap of an accuracy difference: 100,000 examples x 10,000 resamples.

Run: .venv/bin/python benchmarks/bench_bootstrap.py [--part accuracy|auc|log-loss]
(all parts by default).

Measures (medians of several repeats):
  * labline: encode + paired bootstrap (rows merged, Multinomial draw per resample) at full size;
  * labline with merging turned off (index draws, blocks of <= 2**22 elements) — the path a
    metric with continuous per-example values takes (for mean metrics: gather and sum the
    per-example differences); 1,000 resamples, scaled by 10, for information only;
  * the continuous case itself: log-loss on 100,000 examples with distinct probabilities, the
    paired bootstrap (1,000 resamples, scaled by 10) and the paired permutation test at the full
    10,000 random swaps (what ``labline compare -m log_loss`` runs), for information only;
  * scipy.stats.bootstrap(paired=True, method="percentile", vectorized, batch=100) on the same
    100,000 examples. scipy at 10,000 resamples would need ~1.5 minutes, so it runs 500
    resamples and its time is scaled linearly by 20 (its cost is linear in resamples: each
    batch draws and averages batch x n indices). The ratio uses the scaled figure.
The 95% intervals of all three are printed so one can see they agree.

Then the two continuous cases of issue 16 (target: under 10 s each), measured at the full
100,000 examples x 10,000 resamples, wall-clock and CPU seconds (all threads; on a machine
shared with other work the CPU figure is the steadier one), each beside the general path
measured in the same run (``PREVIOUS_RESAMPLES`` resamples, scaled; its cost is linear):
  * AUC, one run per group: draws counted per example, then for a block of resamples at once
    each run's totals per run of one class in its score order (one sparse product), running
    sums and one sum of products (integers, no sort), against the path it replaced (the same
    counts scored one resample at a time: a gather into each run's score order, a running
    sum over all examples and a sum of products) and the weights path (a weighted AUC under
    each block of draw counts); a few resamples are checked against sklearn's roc_auc_score;
  * log-loss with 5 seeds per group (two-level bootstrap): each block's draw counts times all
    runs' per-example losses in one matrix product, against the metric evaluated run by run.
Both count and score on the bootstrap's worker threads (one per CPU, at most 4) while the
calling thread draws the next blocks.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
from scipy import stats as sps

from labline.core import stats
from labline.core.stats._counted_draws import worker_count
from labline.core.stats._metrics import DrawScorer

N_EXAMPLES = 100_000
N_RESAMPLES = 10_000
SCIPY_RESAMPLES = 500
RAW_RESAMPLES = 1_000
REPEATS = 5
PREVIOUS_RESAMPLES = 200
PER_RESAMPLE_RESAMPLES = 1_000
SEEDS = 5


def _median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _log_loss_timings() -> tuple[float, float]:
    """Seconds for the log-loss bootstrap (scaled to N_RESAMPLES) and permutation test."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, N_EXAMPLES)
    p_a = rng.uniform(0.01, 0.99, N_EXAMPLES)
    p_b = np.clip(p_a + rng.normal(0, 0.05, N_EXAMPLES), 0.01, 0.99)
    data = stats.encode_groups(
        stats.get_metric("log_loss"),
        y,
        [stats.Predictions((p_a > 0.5).astype(int), np.column_stack([1 - p_a, p_a]))],
        [stats.Predictions((p_b > 0.5).astype(int), np.column_stack([1 - p_b, p_b]))],
    )
    t_boot, _ = _median_time(
        lambda: stats.bootstrap_difference(data, n_resamples=RAW_RESAMPLES, rng=4), 1
    )
    t_perm, _ = _median_time(
        lambda: stats.paired_permutation_test(data, n_resamples=N_RESAMPLES, rng=5), 1
    )
    return t_boot * (N_RESAMPLES / RAW_RESAMPLES), t_perm


def _interleaved(
    contenders: dict[str, Callable[[], stats.BootstrapResult]], repeats: int
) -> dict[str, tuple[float, float, stats.BootstrapResult]]:
    """Median wall and CPU seconds (all threads of this process) of each contender, run in
    turn ``repeats`` times (load hits all alike)."""
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    results: dict[str, stats.BootstrapResult] = {}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t0, c0 = time.perf_counter(), time.process_time()
            results[name] = fn()
            walls[name].append(time.perf_counter() - t0)
            cpus[name].append(time.process_time() - c0)
    return {
        name: (statistics.median(walls[name]), statistics.median(cpus[name]), results[name])
        for name in contenders
    }


def _machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{worker_count()} bootstrap threads, {os.cpu_count()} CPUs, load average {load}"


def _binary_run(y: np.ndarray, score: np.ndarray) -> stats.Predictions:
    p = 1 / (1 + np.exp(-score))
    return stats.Predictions((p > 0.5).astype(int), np.column_stack([1 - p, p]))


def _per_resample_auc(rows: np.ndarray, counts: np.ndarray) -> DrawScorer:
    """The draw path this replaced, for reference: one resample at a time, a gather of its
    counts into the score order, a running sum of the negatives over all examples and a sum
    of products (binary AUC; the same exact integers)."""
    positive, score = rows[:, 0] == 1, rows[:, 1]
    n = int(counts.sum())
    example_score, example_positive = np.repeat(score, counts), np.repeat(positive, counts)
    order = np.lexsort((example_positive, example_score))
    in_order = bool(np.array_equal(order, np.arange(n)))
    sorted_score = example_score[order]
    is_positive = example_positive[order].astype(np.int64)
    is_negative = 1 - is_positive
    group = np.r_[0, np.cumsum(sorted_score[1:] != sorted_score[:-1])]
    pos_in_group = np.bincount(group, weights=is_positive)
    mixed = (pos_in_group > 0) & (pos_in_group < np.bincount(group))
    tied_at = np.flatnonzero(mixed[group])
    tied_group = np.unique(group[tied_at], return_inverse=True)[1]
    tied_positive = is_positive[tied_at].astype(bool)
    n_tied = int(tied_group.max()) + 1 if tied_at.size else 0

    def one(c: np.ndarray) -> float:
        c = c if in_order else np.take(c, order)
        negatives_below = np.cumsum(c * is_negative)
        n_neg = int(negatives_below[-1])
        twice_u = 2 * int(np.einsum("i,i,i->", c, is_positive, negatives_below))
        if n_tied:
            pos_g = np.bincount(tied_group[tied_positive], c[tied_at[tied_positive]], n_tied)
            neg_g = np.bincount(tied_group[~tied_positive], c[tied_at[~tied_positive]], n_tied)
            twice_u -= round(float(np.dot(pos_g, neg_g)))
        denominator = 2 * n_neg * (n - n_neg)
        return twice_u / denominator if denominator else float("nan")

    def block(draw_counts: np.ndarray) -> np.ndarray:
        return np.array([one(np.ascontiguousarray(c, dtype=np.int64)) for c in draw_counts])

    return DrawScorer(block, np.int64)


def _auc_comparison() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, N_EXAMPLES)
    base = _binary_run(y, y + rng.normal(0, 1, N_EXAMPLES))
    cand = _binary_run(y, 1.1 * y + rng.normal(0, 1, N_EXAMPLES))
    auc = stats.get_metric("auc")
    previous = dataclasses.replace(auc, draw_evaluator=None)
    data = stats.encode_groups(auc, y, [base], [cand])
    data_previous = dataclasses.replace(data, metric=previous)
    data_per_resample = dataclasses.replace(
        data, metric=dataclasses.replace(auc, draw_evaluator=_per_resample_auc)
    )
    full = _interleaved(
        {"counts": lambda: stats.bootstrap_difference(data, n_resamples=N_RESAMPLES, rng=7)},
        1,
    )
    previous_run = _interleaved(
        {
            "per resample": lambda: stats.bootstrap_difference(
                data_per_resample, n_resamples=PER_RESAMPLE_RESAMPLES, rng=7
            ),
            "weights": lambda: stats.bootstrap_difference(
                data_previous, n_resamples=PREVIOUS_RESAMPLES, rng=7
            ),
        },
        1,
    )
    scale = N_RESAMPLES / PREVIOUS_RESAMPLES
    scale_one = N_RESAMPLES / PER_RESAMPLE_RESAMPLES
    t_new, c_new, new = full["counts"]
    t_one, c_one, one = previous_run["per resample"]
    t_old, c_old, old = previous_run["weights"]
    same = np.array_equal(one.distribution, new.distribution[:PER_RESAMPLE_RESAMPLES])
    evaluate = auc.draw_evaluator
    assert evaluate is not None
    column = data.baseline_columns[0]
    draws = rng.integers(0, N_EXAMPLES, size=(3, N_EXAMPLES))
    score = evaluate(data.rows[:, column], data.counts)
    ours = [score(np.bincount(d, minlength=N_EXAMPLES)) for d in draws]
    examples = np.repeat(data.rows[:, column], data.counts, axis=0)
    worst = max(
        abs(v - roc_auc_score(examples[d, 0], examples[d, 1]))
        for v, d in zip(ours, draws, strict=True)
    )
    print(f"paired bootstrap, AUC difference, {N_EXAMPLES:,} examples x {N_RESAMPLES:,} resamples")
    print(
        f"  labline (class runs, block product): {t_new:8.3f} s wall, {c_new:8.3f} s CPU"
        f"  CI [{new.ci_low:.5f}, {new.ci_high:.5f}]"
    )
    print(
        f"  previous draw path, per resample   : {t_one * scale_one:8.3f} s wall, "
        f"{c_one * scale_one:8.3f} s CPU  (measured {PER_RESAMPLE_RESAMPLES} resamples, scaled "
        f"x{scale_one:g}; the same {PER_RESAMPLE_RESAMPLES} values bit for bit: {same})"
    )
    print(
        f"  weights path                       : {t_old * scale:8.3f} s wall, "
        f"{c_old * scale:8.3f} s CPU  CI [{old.ci_low:.5f}, {old.ci_high:.5f}]  "
        f"(measured {PREVIOUS_RESAMPLES} resamples, scaled x{scale:g})"
    )
    print(
        f"  target < 10 s: {'met' if t_new < 10 else 'NOT met'} "
        f"(wall / target {t_new / 10:.2f}x, CPU / target {c_new / 10:.2f}x); per resample / new "
        f"{t_one * scale_one / t_new:.2f}x wall, {c_one * scale_one / c_new:.2f}x CPU; weights / "
        f"new {t_old * scale / t_new:.1f}x ; max |ours - sklearn roc_auc_score| on 3 resamples: "
        f"{worst:.1e}"
    )
    print(f"  ({_machine()})")


def _seeded_log_loss_comparison() -> None:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, N_EXAMPLES)

    def group(shift: float) -> list[stats.Predictions]:
        return [
            _binary_run(y, shift * (2 * y - 1) + rng.normal(0, 1, N_EXAMPLES)) for _ in range(SEEDS)
        ]

    log_loss = stats.get_metric("log_loss")
    data = stats.encode_groups(log_loss, y, group(1.0), group(1.05))
    # the previous path evaluated the metric run by run under the draw counts
    data_previous = dataclasses.replace(
        data, metric=dataclasses.replace(log_loss, per_example=False)
    )
    full = _interleaved(
        {"counts": lambda: stats.bootstrap_difference(data, n_resamples=N_RESAMPLES, rng=9)},
        1,
    )
    previous_run = _interleaved(
        {
            "per run": lambda: stats.bootstrap_difference(
                data_previous, n_resamples=PREVIOUS_RESAMPLES, rng=9
            )
        },
        1,
    )
    scale = N_RESAMPLES / PREVIOUS_RESAMPLES
    t_new, c_new, new = full["counts"]
    t_old, c_old, old = previous_run["per run"]
    print(
        f"two-level bootstrap, log-loss, {SEEDS}+{SEEDS} seeds, {N_EXAMPLES:,} examples x "
        f"{N_RESAMPLES:,} resamples"
    )
    print(
        f"  labline (counts x all runs, 1 product): {t_new:8.3f} s wall, {c_new:8.3f} s CPU"
        f"  CI [{new.ci_low:.5f}, {new.ci_high:.5f}]"
    )
    print(
        f"  metric evaluated run by run           : {t_old * scale:8.3f} s wall, "
        f"{c_old * scale:8.3f} s CPU  CI [{old.ci_low:.5f}, {old.ci_high:.5f}]  "
        f"(measured {PREVIOUS_RESAMPLES} resamples, scaled x{scale:g})"
    )
    print(
        f"  target < 10 s: {'met' if t_new < 10 else 'NOT met'} "
        f"(wall / target {t_new / 10:.2f}x, CPU / target {c_new / 10:.2f}x); "
        f"run by run / new {t_old * scale / t_new:.1f}x"
    )
    print(f"  ({_machine()})")


def main() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, N_EXAMPLES)
    pred_a = np.where(rng.random(N_EXAMPLES) < 0.80, y, rng.integers(0, 10, N_EXAMPLES))
    pred_b = np.where(rng.random(N_EXAMPLES) < 0.81, y, rng.integers(0, 10, N_EXAMPLES))
    accuracy = stats.get_metric("accuracy")

    def labline(merge: bool, n_resamples: int) -> stats.BootstrapResult:
        data = stats.encode_groups(
            accuracy,
            y,
            [stats.Predictions(pred_a)],
            [stats.Predictions(pred_b)],
            merge_identical=merge,
        )
        return stats.bootstrap_difference(data, n_resamples=n_resamples, rng=1)

    t_ours, ours = _median_time(lambda: labline(True, N_RESAMPLES), REPEATS)
    t_raw_part, raw = _median_time(lambda: labline(False, RAW_RESAMPLES), 1)
    t_raw = t_raw_part * (N_RESAMPLES / RAW_RESAMPLES)

    correct_a, correct_b = (pred_a == y).astype(np.float64), (pred_b == y).astype(np.float64)

    def scipy_run() -> object:
        return sps.bootstrap(
            (correct_b, correct_a),
            lambda b, a, axis: b.mean(axis=axis) - a.mean(axis=axis),
            paired=True,
            vectorized=True,
            method="percentile",
            n_resamples=SCIPY_RESAMPLES,
            batch=100,
            rng=np.random.default_rng(2),
        )

    t_scipy_part, ref = _median_time(scipy_run, 3)
    t_scipy = t_scipy_part * (N_RESAMPLES / SCIPY_RESAMPLES)

    assert isinstance(ours, stats.BootstrapResult) and isinstance(raw, stats.BootstrapResult)
    ci = ref.confidence_interval  # type: ignore[attr-defined]
    print(
        f"paired bootstrap, accuracy difference, {N_EXAMPLES:,} examples x {N_RESAMPLES:,} resamples"
    )
    print(
        f"  labline (merged rows, multinomial) : {t_ours:8.3f} s  median of {REPEATS}  CI [{ours.ci_low:.5f}, {ours.ci_high:.5f}]"
    )
    print(
        f"  labline (index draws, no merging)  : {t_raw:8.3f} s  "
        f"(measured {t_raw_part:.3f} s for {RAW_RESAMPLES} resamples x {N_RESAMPLES // RAW_RESAMPLES})"
        f"  CI [{raw.ci_low:.5f}, {raw.ci_high:.5f}]"
    )
    print(
        f"  scipy.stats.bootstrap paired pct.  : {t_scipy:8.3f} s  "
        f"(measured {t_scipy_part:.3f} s for {SCIPY_RESAMPLES} resamples x {N_RESAMPLES // SCIPY_RESAMPLES})"
        f"  CI [{ci.low:.5f}, {ci.high:.5f}]"
    )
    t_ll_boot, t_ll_perm = _log_loss_timings()
    print(
        f"  log-loss, continuous, {N_EXAMPLES:,} examples: bootstrap {t_ll_boot:.3f} s "
        f"(x{N_RESAMPLES // RAW_RESAMPLES} of {RAW_RESAMPLES} resamples), "
        f"permutation test {t_ll_perm:.3f} s ({N_RESAMPLES:,} random swaps)"
    )
    print(f"  target < 1 s: {'met' if t_ours < 1.0 else 'NOT met'}")
    print(
        f"  speed-up vs scipy: {t_scipy / t_ours:,.0f}x ; vs labline's own index path: {t_raw / t_ours:,.0f}x"
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["all", "accuracy", "auc", "log-loss"], default="all")
    part = parser.parse_args().part
    if part in ("all", "accuracy"):
        main()
    if part in ("all", "auc"):
        _auc_comparison()
    if part in ("all", "log-loss"):
        _seeded_log_loss_comparison()
