"""Paired bootstrap of an accuracy difference: 100,000 examples x 10,000 resamples.

Run: .venv/bin/python benchmarks/bench_bootstrap.py

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
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from scipy import stats as sps

from labline.core import stats

N_EXAMPLES = 100_000
N_RESAMPLES = 10_000
SCIPY_RESAMPLES = 500
RAW_RESAMPLES = 1_000
REPEATS = 5


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
    main()
