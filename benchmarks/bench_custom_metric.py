"""A custom per-example metric (labline.Metric) against the built-in one it re-implements.

Run: .venv/bin/python benchmarks/bench_custom_metric.py

Paired bootstrap of a macro-F1 difference, 10,000 examples x 3 classes, one run per group,
1,000 resamples (``stats.bootstrap_difference``, what ``compare`` runs for the interval).
Contenders, interleaved and repeated, medians quoted, each as a ratio to the built-in:
  * built-in ``macro_f1`` (rows merged, all resamples scored with matrix products);
  * ``Metric(fn)`` with a numpy macro-F1 taking ``sample_weight`` (one call per resample and run);
  * ``Metric(fn)`` with the same numpy macro-F1 without ``sample_weight`` (examples repeated);
  * ``Metric(fn, vectorized=True)``: one call scores a block of resamples;
  * ``Metric(fn)`` with scikit-learn's ``f1_score(average="macro", sample_weight=...)``; it
    runs 200 resamples and its time is scaled by 5 (linear in resamples).
The point estimates and 95% intervals are printed so one can see they agree.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from sklearn.metrics import f1_score

from labline.core import stats

N_EXAMPLES = 10_000
N_RESAMPLES = 1_000
SKLEARN_RESAMPLES = 200
REPEATS = 3


def _numpy_macro_f1(y_true, y_pred, sample_weight=None) -> float:
    w = np.ones(y_true.size) if sample_weight is None else sample_weight
    f1 = []
    for k in np.union1d(y_true, y_pred):
        tp = w[(y_true == k) & (y_pred == k)].sum()
        support = w[y_true == k].sum() + w[y_pred == k].sum()
        f1.append(2 * tp / support)
    return float(np.mean(f1))


def _numpy_macro_f1_unweighted(y_true, y_pred) -> float:
    return _numpy_macro_f1(y_true, y_pred)


def _vectorized_macro_f1(y_true, y_pred, sample_weight):
    f1 = []
    for k in np.union1d(y_true, y_pred):
        tp = sample_weight @ ((y_true == k) & (y_pred == k))
        support = sample_weight @ (y_true == k) + sample_weight @ (y_pred == k)
        f1.append(2 * tp / support)
    return np.mean(f1, axis=0)


def _sklearn_macro_f1(y_true, y_pred, sample_weight=None) -> float:
    return float(f1_score(y_true, y_pred, average="macro", sample_weight=sample_weight))


def main() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, N_EXAMPLES)
    a = np.where(rng.random(N_EXAMPLES) < 0.80, y, rng.integers(0, 3, N_EXAMPLES))
    b = np.where(rng.random(N_EXAMPLES) < 0.82, y, rng.integers(0, 3, N_EXAMPLES))
    contenders: dict[str, tuple[stats.Metric, int]] = {
        "built-in macro_f1": (stats.get_metric("macro_f1"), N_RESAMPLES),
        "Metric(numpy fn, sample_weight)": (stats.Metric("f1_w", _numpy_macro_f1), N_RESAMPLES),
        "Metric(numpy fn, repeated rows)": (
            stats.Metric("f1_r", _numpy_macro_f1_unweighted),
            N_RESAMPLES,
        ),
        "Metric(numpy fn, vectorized)": (
            stats.Metric("f1_v", _vectorized_macro_f1, vectorized=True),
            N_RESAMPLES,
        ),
        "Metric(sklearn f1_score)": (stats.Metric("f1_s", _sklearn_macro_f1), SKLEARN_RESAMPLES),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    results: dict[str, stats.BootstrapResult] = {}

    def run(metric: stats.Metric, resamples: int) -> Callable[[], stats.BootstrapResult]:
        def go() -> stats.BootstrapResult:
            data = stats.encode_groups(metric, y, [stats.Predictions(a)], [stats.Predictions(b)])
            return stats.bootstrap_difference(data, n_resamples=resamples, rng=1)

        return go

    for _ in range(REPEATS):  # interleaved, so machine load hits every contender alike
        for name, (metric, resamples) in contenders.items():
            t0 = time.perf_counter()
            results[name] = run(metric, resamples)()
            times[name].append((time.perf_counter() - t0) * N_RESAMPLES / resamples)
    base = statistics.median(times["built-in macro_f1"])
    print(f"paired bootstrap, macro-F1, {N_EXAMPLES:,} examples x {N_RESAMPLES:,} resamples")
    for name in contenders:
        t = statistics.median(times[name])
        r = results[name]
        print(
            f"  {name:34s} {t:8.3f} s  x{t / base:7.1f}   estimate {r.estimate:+.5f}  "
            f"95% CI [{r.ci_low:+.5f}, {r.ci_high:+.5f}]"
        )


if __name__ == "__main__":
    main()
