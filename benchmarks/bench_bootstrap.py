"""Paired bootstrap of an accuracy difference: 100,000 examples x 10,000 resamples.

Run: .venv/bin/python benchmarks/bench_bootstrap.py

Measures (medians of several repeats):
  * labline: encode + paired bootstrap (rows merged, Multinomial draw per resample) at full size;
  * labline with merging turned off (index draws + bincount, blocks of <= 2**22 elements) — the
    general path any metric with continuous per-example values takes; 1,000 resamples, scaled
    by 10, for information only;
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
    print(f"  target < 1 s: {'met' if t_ours < 1.0 else 'NOT met'}")
    print(
        f"  speed-up vs scipy: {t_scipy / t_ours:,.0f}x ; vs labline's own index path: {t_raw / t_ours:,.0f}x"
    )


if __name__ == "__main__":
    main()
